"""Settings: where the file comes from, what a bad one does to the CLI, connectors' passwords,
and the base URL clients are given."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hirondelle.cli import app
from hirondelle.config import (
    CONFIG_FILE_ENV,
    ConfigError,
    ConnectorConfig,
    Settings,
    load_settings,
)

CONNECTOR = 'name = "op1"\nhost = "smsc.example.com"\nport = 2775\nsystem_id = "me"\n'


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(CONFIG_FILE_ENV, raising=False)
    monkeypatch.delenv("HIRONDELLE_PORT", raising=False)


def test_the_file_named_by_hirondelle_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "hirondelle.toml").write_text("port = 1111\n")
    elsewhere = tmp_path / "etc" / "sms.toml"
    elsewhere.parent.mkdir()
    elsewhere.write_text(f'port = 2222\ntimezone = "UTC"\n[[connectors]]\n{CONNECTOR}')
    assert load_settings().port == 1111  # ./hirondelle.toml by default
    monkeypatch.setenv(CONFIG_FILE_ENV, str(elsewhere))
    settings = load_settings()
    assert (settings.port, settings.timezone) == (2222, "UTC")
    assert [c.host for c in settings.connectors] == ["smsc.example.com"]
    assert load_settings(str(tmp_path / "hirondelle.toml")).port == 1111  # --config wins


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("port = [unclosed\n", "bad.toml"),
        ('port = "eighty"\n', "port: Input should be a valid integer"),
        ("[[connectors]]\nname = 1\n", "connectors.0.name"),
        ('smtp_tls = "ssl"\n', "smtp_tls"),
        ("prot = 8000\n", "unknown key 'prot' in bad.toml (did you mean 'port'?)"),
        (
            f"[[connectors]]\n{CONNECTOR}prefix = ['33']\n",
            "unknown key 'prefix' in connector 'op1' of bad.toml (did you mean 'prefixes'?)",
        ),
        ("frobnicate = 1\n", "unknown key 'frobnicate' in bad.toml\n"),
        # A connector's values, each checked when the file is read rather than falling back to
        # a default (a bind mode, an encoding) or failing at start or at the first submit.
        (f"[[connectors]]\n{CONNECTOR}window = 0\n", "connectors.0.window: Input should be"),
        (
            "[[connectors]]\n" + CONNECTOR.replace("2775", "70000"),
            "connectors.0.port: Input should be less than or equal to 65535",
        ),
        (f"[[connectors]]\n{CONNECTOR}tps = -5\n", "connectors.0.tps: Input should be"),
        (
            f"[[connectors]]\n{CONNECTOR}bind_mode = 'transmiter'\n",
            "connectors.0.bind_mode: Input should be 'transceiver', 'trx', "
            "'transmitter+receiver' or 'tx+rx'",
        ),
        (
            f"[[connectors]]\n{CONNECTOR}encoding = 'ucs2'\n",
            "connectors.0.encoding: Input should be 'gsm7' or 'latin1'",
        ),
        (f"[[connectors]]\n{CONNECTOR}concatenation = 'udh7'\n", "connectors.0.concatenation"),
        (f"[[connectors]]\n{CONNECTOR}dest_ton = 300\n", "connectors.0.dest_ton: Input should be"),
        (f"[[connectors]]\n{CONNECTOR}source_npi = -1\n", "connectors.0.source_npi"),
        (
            'database_url = "mysql://me:pw@db/sms"\n',
            "database_url: the database URL must start with sqlite:/// or postgresql://, "
            "not mysql://",
        ),
    ],
)
def test_a_bad_file_is_one_readable_line(tmp_path: Path, content: str, expected: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(content)
    result = CliRunner().invoke(app, ["accounts", "list", "--config", str(bad)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: invalid configuration: "), result.output
    assert result.output.count("\n") == 1, result.output
    assert expected in result.output.replace(f"{tmp_path}/", "")
    assert "pw@" not in result.output
    assert not (tmp_path / "var").exists()  # nothing was opened or created


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://me@db.example/sms", "postgresql+psycopg://me@db.example/sms"),
        ("postgresql://me@db.example/sms", "postgresql+psycopg://me@db.example/sms"),
        ("postgresql+psycopg://me@db.example/sms", "postgresql+psycopg://me@db.example/sms"),
        ("sqlite:///var/x.db", "sqlite:///var/x.db"),
    ],
)
def test_postgres_urls_are_accepted_in_each_spelling(url: str, expected: str) -> None:
    assert Settings(database_url=url).database_url == expected


def operator(**fields: str) -> ConnectorConfig:
    return ConnectorConfig(name="op", host="h", port=1, system_id="me", **fields)  # type: ignore[arg-type]


def test_connector_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OP_SECRET", "from-env")
    monkeypatch.delenv("OP_MISSING", raising=False)
    assert operator(password="inline").resolved_password() == "inline"
    assert operator(password="ignored", password_env="OP_SECRET").resolved_password() == "from-env"
    with pytest.raises(ConfigError, match="connector 'op': its password_env variable OP_MISSING"):
        operator(password_env="OP_MISSING").resolved_password()
    assert operator().resolved_password() == ""


def test_connector_defaults_from_the_file(tmp_path: Path) -> None:
    (tmp_path / "hirondelle.toml").write_text(f"[[connectors]]\n{CONNECTOR}")
    (connector,) = load_settings().connectors
    assert (connector.bind_mode, connector.window, connector.encoding) == (
        "transceiver",
        10,
        "gsm7",
    )
    assert (connector.dest_ton, connector.dest_npi, connector.source_ton) == (1, 1, None)


def test_message_validity_settings() -> None:
    assert Settings().message_validity_hours == 48
    with pytest.raises(ValueError, match="message_validity_hours"):
        Settings(message_validity_hours=0)
    assert operator().validity_format == "relative"
    assert operator(validity_format="absolute").validity_format == "absolute"
    with pytest.raises(ValueError, match="validity_format"):
        operator(validity_format="forever")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, "http://127.0.0.1:8080"),
        ({"host": "0.0.0.0", "port": 0}, "http://0.0.0.0:0"),
        ({"tls_cert": "c.pem", "tls_key": "k.pem", "port": 8443}, "https://127.0.0.1:8443"),
        ({"tls_cert": "c.pem"}, "http://127.0.0.1:8080"),  # a certificate alone is not TLS
        ({"public_url": "https://sms.example.com/"}, "https://sms.example.com"),
        (
            {"public_url": "https://x.test/sms", "tls_cert": "c", "tls_key": "k"},
            "https://x.test/sms",
        ),
    ],
)
def test_base_url(values: dict[str, object], expected: str) -> None:
    assert Settings(**values).base_url == expected  # type: ignore[arg-type]
