"""The `hirondelle` command line, run in-process against a temporary SQLite store."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from hirondelle.cli import app


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HIRONDELLE_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), prog_name="hirondelle")
        assert result.exit_code == code, result.output
        return result.output

    return invoke


def test_account_lifecycle(run) -> None:  # type: ignore[no-untyped-def]
    created = json.loads(run("accounts", "create", "acme", "--credits", "500", "--json"))
    assert created["login"] == "acme"
    assert created["credits"] == 500
    assert len(created["apiKey"]) >= 32

    assert "acme" in run("accounts", "list")
    shown = json.loads(run("accounts", "show", "acme", "--json"))
    assert shown["credits"] == 500 and "apiKey" not in shown

    assert "acme: 750 credits" in run("accounts", "topup", "acme", "250")
    rotated = json.loads(run("accounts", "rotate-key", "acme", "--json"))
    assert rotated["apiKey"] != created["apiKey"]
    assert rotated["credits"] == 750


def test_errors_are_readable(run) -> None:  # type: ignore[no-untyped-def]
    run("accounts", "create", "acme")
    assert "already taken" in run("accounts", "create", "acme", code=1)
    assert "No account" in run("accounts", "show", "ghost", code=1)
    assert "at least 6" in run("accounts", "create", "bob", "--password", "123", code=1)
    assert "positive" in run("accounts", "topup", "acme", "0", code=1)


def test_db_upgrade(run) -> None:  # type: ignore[no-untyped-def]
    assert "revision 0001" in run("db", "upgrade")


def test_help_explains(run) -> None:  # type: ignore[no-untyped-def]
    text = run("--help")
    for command in ("serve", "db", "accounts"):
        assert command in text
    assert "demo account" in run("serve", "--help")


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("command", [["accounts", "list"], ["db", "upgrade"]])
def test_an_unreachable_database_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("")
    urls = {
        f"postgresql://me:hunter2@127.0.0.1:{closed_port()}/sms": "connection refused",
        f"sqlite:///{tmp_path}/a-file/sms.db": "a-file",
    }
    for url, reason in urls.items():
        result = CliRunner().invoke(app, [*command, "--database", url], prog_name="hirondelle")
        assert result.exit_code == 1, result.output
        assert result.output.startswith("Error: cannot open the database "), result.output
        assert result.output.count("\n") == 1, result.output
        assert reason in result.output.lower()
        assert "hunter2" not in result.output and "Traceback" not in result.output


@pytest.mark.postgres
def test_db_upgrade_never_prints_the_password(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = make_url(postgres_url).set(password="hunter2").render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["db", "upgrade", "--database", url])
    assert result.exit_code == 0, result.output
    assert "revision 0001" in result.output and "***" in result.output
    assert "hunter2" not in result.output


def test_account_settings(run) -> None:  # type: ignore[no-untyped-def]
    run("accounts", "create", "acme")
    run("accounts", "create", "other")
    shown = json.loads(
        run(
            "accounts",
            "set",
            "acme",
            "--reply-number",
            "+33 6 12 34 56 78",
            "--accept-masteraccount",
            "--json",
        )
    )
    assert (shown["replyNumber"], shown["acceptsMasteraccount"]) == ("33612345678", True)
    taken = run("accounts", "set", "other", "--reply-number", "33612345678", code=1)
    assert "already the reply number of acme" in taken
    assert "shared sender" in run("accounts", "set", "other", "--reply-number", "36180", code=1)
    assert "3 to 15 digits" in run("accounts", "set", "other", "--reply-number", "1_0", code=1)
    assert "replyNumber: None" in run("accounts", "show", "other")
    cleared = run(
        "accounts", "set", "acme", "--reply-number", "none", "--refuse-masteraccount", "--json"
    )
    assert json.loads(cleared)["replyNumber"] is None
    assert json.loads(cleared)["acceptsMasteraccount"] is False


def test_account_sending_hours(run) -> None:  # type: ignore[no-untyped-def]
    run("accounts", "create", "acme")
    shown = json.loads(run("accounts", "show", "acme", "--json"))
    assert (shown["commercialHours"], shown["sendingWindow"]) == (False, "Mon-Sat 08:00-20:00")
    changed = run(
        "accounts", "set", "acme", "--commercial-hours", "--sending-window", "mon-fri 9:00-18:00"
    )
    assert "Mon-Fri 09:00-18:00" in changed
    shown = json.loads(run("accounts", "show", "acme", "--json"))
    assert (shown["commercialHours"], shown["sendingWindow"]) == (True, "Mon-Fri 09:00-18:00")
    assert "Bad sending window" in run("accounts", "set", "acme", "--sending-window", "x", code=1)
    off = json.loads(run("accounts", "set", "acme", "--no-commercial-hours", "--json"))
    assert (off["commercialHours"], off["sendingWindow"]) == (False, "Mon-Fri 09:00-18:00")


@pytest.mark.parametrize("credits", ["\u0661\u0660", "1_0", "\uff11\uff10", "+5"])
def test_credit_amounts_are_ascii_digits(run, credits: str) -> None:  # type: ignore[no-untyped-def]
    run("accounts", "create", "acme", "--credits", "7")
    assert "whole number" in run("accounts", "topup", "acme", credits, code=2)
    assert "whole number" in run("accounts", "create", "other", "--credits", credits, code=2)
    assert json.loads(run("accounts", "show", "acme", "--json"))["credits"] == 7


def test_ip_allow_list(run) -> None:  # type: ignore[no-untyped-def]
    run("accounts", "create", "acme")
    assert "any address" in run("accounts", "allowed-ips", "acme")
    added = run("accounts", "allow-ip", "acme", "203.0.113.7", "2001:db8::/32", "10.0.0.0/8")
    assert "10.0.0.0/8 203.0.113.7/32 2001:db8::/32" in added
    shown = json.loads(run("accounts", "allowed-ips", "acme", "--json"))
    listed = ["10.0.0.0/8", "203.0.113.7/32", "2001:db8::/32"]
    assert shown == {"login": "acme", "allowedIps": listed}
    removed = json.loads(run("accounts", "remove-ip", "acme", "203.0.113.7", "--json"))
    assert removed["allowedIps"] == ["10.0.0.0/8", "2001:db8::/32"]
    assert "did you mean 10.0.0.0/8?" in run("accounts", "allow-ip", "acme", "10.1.1.1/8", code=1)
    assert "Not in the allow-list" in run("accounts", "remove-ip", "acme", "192.0.2.1", code=1)
    assert "--all" in run("accounts", "remove-ip", "acme", code=1)
    assert "any address" in run("accounts", "remove-ip", "acme", "--all")
    assert "No account" in run("accounts", "allow-ip", "ghost", "192.0.2.1", code=1)


def test_throughput_limits(run) -> None:  # type: ignore[no-untyped-def]
    run("accounts", "create", "acme")
    assert "unlimited" in run("accounts", "limits", "acme")
    set_ = json.loads(run("accounts", "limits", "acme", "--messages-per-second", "50", "--json"))
    assert set_ == {"login": "acme", "messagesPerSecond": 50, "requestsPerSecond": None}
    run("accounts", "limits", "acme", "--requests-per-second", "10")
    shown = json.loads(run("accounts", "show", "acme", "--json"))
    assert (shown["messagesPerSecond"], shown["requestsPerSecond"]) == (50, 10)
    cleared = json.loads(run("accounts", "limits", "acme", "--messages-per-second", "0", "--json"))
    assert cleared["messagesPerSecond"] is None and cleared["requestsPerSecond"] == 10
    for bad in ("-1", "١٠", "2.5"):
        refused = run("accounts", "limits", "acme", "--messages-per-second", bad, code=2)
        assert "whole number" in refused
