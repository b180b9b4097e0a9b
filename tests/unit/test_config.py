"""Settings: defaults, the TOML file, the environment (which wins), and explicit overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from hirondelle.config import ConfigError, ensure_secret_key, load_settings


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.database_url == "sqlite:///var/hirondelle.db"
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.timezone == "Europe/Paris"
    assert settings.default_sender == "36180"
    assert settings.base_url == "http://127.0.0.1:8080"


def test_file_then_environment_then_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "hirondelle.toml"
    config.write_text(
        'port = 9000\ndefault_sender = "ACME"\ntimezone = "UTC"\n'
        '[[connectors]]\nname = "op1"\nhost = "127.0.0.1"\nport = 2775\nsystem_id = "me"\n'
        'password_env = "OP1_PASSWORD"\nprefixes = ["33"]\n'
    )
    monkeypatch.setenv("HIRONDELLE_PORT", "9100")
    monkeypatch.setenv("OP1_PASSWORD", "s3cret")
    settings = load_settings(str(config), host="0.0.0.0")
    assert settings.port == 9100
    assert settings.default_sender == "ACME"
    assert settings.host == "0.0.0.0"
    assert settings.connectors[0].resolved_password() == "s3cret"
    assert settings.connectors[0].prefixes == ["33"]


def test_secret_key_is_generated_once_and_private(tmp_path: Path) -> None:
    settings = load_settings(var_dir=str(tmp_path / "var"))
    first = ensure_secret_key(settings)
    assert ensure_secret_key(settings) == first
    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o777 == 0o600


def test_a_named_configuration_file_must_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"missing\.toml"):
        load_settings(str(tmp_path / "missing.toml"))
    monkeypatch.setenv("HIRONDELLE_CONFIG", str(tmp_path / "typo.toml"))
    with pytest.raises(ConfigError, match=r"typo\.toml"):
        load_settings()
    monkeypatch.delenv("HIRONDELLE_CONFIG")
    assert load_settings().port == 8080  # no file named, none in the folder: defaults


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('["10.0.0.0/8", "::1"]', ["10.0.0.0/8", "::1/128"]),
        ("10.0.0.1, 192.168.0.0/16", ["10.0.0.1/32", "192.168.0.0/16"]),
        ("[]", []),
    ],
)
def test_trusted_proxies_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HIRONDELLE_TRUSTED_PROXIES", value)
    assert load_settings().trusted_proxies == expected


def test_trusted_proxies_from_the_file_and_their_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hirondelle.toml").write_text('trusted_proxies = ["2001:db8::/48"]\n')
    assert load_settings().trusted_proxies == ["2001:db8::/48"]
    (tmp_path / "hirondelle.toml").write_text('trusted_proxies = ["10.0.0.1/8"]\n')
    with pytest.raises(ConfigError, match=r"trusted_proxies: .*did you mean 10.0.0.0/8\?"):
        load_settings()
    monkeypatch.setenv("HIRONDELLE_TRUSTED_PROXIES", "[not json")
    with pytest.raises(ConfigError, match="trusted_proxies"):
        load_settings()
