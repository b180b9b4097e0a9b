"""`hirondelle serve`: the demo account, the welcome text, and the real process (HTTP, HTTPS,
SIGTERM)."""

from __future__ import annotations

import re
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa
from lxml import etree
from starlette.testclient import TestClient

from hirondelle.app import create_app
from hirondelle.context import Context
from hirondelle.server import (
    DEMO_LOGIN,
    PortUnavailable,
    check_smpp_server,
    ensure_demo_account,
    listen,
    print_welcome,
)
from hirondelle.services import accounts, sending
from hirondelle.services.planning import Recipient, SmsOrder
from hirondelle.store import Store
from hirondelle.store import delivery as delivery_rows
from hirondelle.store.engine import create_engine
from hirondelle.store.schema import messages
from tests.conftest import TEST_SECRET, make_settings
from tests.helpers import make_account
from tests.processes import Running

CURL = re.compile(r"curl '(?P<url>[^']+)'")


@contextmanager
def context(database_url: str, tmp_path: Path, **overrides: Any) -> Iterator[Context]:
    settings = make_settings(database_url, tmp_path, **overrides)
    ctx = Context(store=Store(create_engine(database_url)), settings=settings, secret=TEST_SECRET)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.mark.anyio
async def test_demo_account_only_on_an_empty_store(database_url: str, tmp_path: Path) -> None:
    with context(database_url, tmp_path, demo_account=True, demo_credits=1234) as ctx:
        demo = await ensure_demo_account(ctx)
        assert demo is not None
        assert (demo.account.login, demo.account.balance) == (DEMO_LOGIN, 1234)
        assert (demo.account.first_name, demo.account.society) == ("Demo", "Hirondelle")
        assert await ensure_demo_account(ctx) is None  # the store is no longer empty


@pytest.mark.anyio
async def test_no_demo_account_when_off_or_when_accounts_exist(
    database_url: str, tmp_path: Path
) -> None:
    with context(database_url, tmp_path, demo_account=False) as ctx:
        assert await ensure_demo_account(ctx) is None
    with context(database_url, tmp_path, demo_account=True) as ctx:
        make_account(ctx, "existing")
        assert await ensure_demo_account(ctx) is None


@pytest.mark.anyio
async def test_welcome_prints_a_curl_line_that_works(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with context(sqlite_url, tmp_path, demo_account=True, demo_credits=777) as ctx:
        demo = await ensure_demo_account(ctx)
        assert demo is not None
        print_welcome("http://127.0.0.1:8123", demo)
        out = capsys.readouterr().out
        assert "Hirondelle is listening on http://127.0.0.1:8123\n" in out
        assert "login 'demo', 777 credits" in out
        assert f"Its API key (shown only now): {demo.api_key}\n" in out
        match = CURL.search(out)
        assert match is not None, out
        url = urlsplit(match["url"])
        assert (url.scheme, url.netloc, url.path) == ("http", "127.0.0.1:8123", "/http/9.0/getInfo")
        with TestClient(create_app(ctx)) as client:
            answer = client.get(f"{url.path}?{url.query}").json()
        assert (answer["credits"], answer["apiKey"]) == (777, demo.api_key)


def test_welcome_without_a_demo_account(capsys: pytest.CaptureFixture[str]) -> None:
    print_welcome("https://sms.example.com", None)
    assert capsys.readouterr().out == (
        "\nHirondelle is listening on https://sms.example.com\n"
        "The customer area: https://sms.example.com/account/ (docs/customer-area.md)\n"
    )


def serve(tmp_path: Path, *args: str) -> Running:
    return Running(
        ["serve", "--port", "0", *args],
        cwd=tmp_path,
        env={
            "HIRONDELLE_DATABASE_URL": f"sqlite:///{tmp_path}/var/serve.db",
            "HIRONDELLE_VAR_DIR": str(tmp_path / "var"),
            "HIRONDELLE_WORKERS": "false",
            "HIRONDELLE_DEMO_CREDITS": "4321",
        },
    )


def started(server: Running, scheme: str) -> str:
    """The printed getInfo URL, once the welcome text is out."""
    server.expect(rf"listening on {scheme}://127\.0\.0\.1:\d+$")
    server.expect(r"login 'demo', 4321 credits")
    url: str = server.expect(CURL.pattern)["url"]
    assert url.startswith(f"{scheme}://127.0.0.1:")
    return url


def test_serve_process_answers_the_printed_curl_and_stops_on_sigterm(tmp_path: Path) -> None:
    with serve(tmp_path) as server:
        url = started(server, "http")
        with httpx.Client(timeout=10) as http:
            answer = http.get(url)
            assert answer.status_code == 200 and answer.json()["credits"] == 4321
            xml = http.get(url + "&returnformat=xml")
        assert xml.headers["content-type"].startswith("application/xml")
        assert etree.fromstring(xml.content).findtext("credits") == "4321"
        assert server.terminate() == 0
    assert (tmp_path / "var" / "serve.db").is_file()
    assert not (tmp_path / "var" / "serve.db-wal").exists()  # the store was closed


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subject = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    files = ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            *subject,
            *files,
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def test_serve_process_over_tls(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    with serve(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key)) as server:
        url = started(server, "https")
        answer = httpx.get(url, verify=ssl.create_default_context(cafile=cert), timeout=10)
        assert answer.status_code == 200 and answer.json()["credits"] == 4321
        with pytest.raises(httpx.ConnectError):  # not a certificate anyone else vouches for
            httpx.get(url, timeout=10)
        assert server.terminate() == 0


@pytest.mark.anyio
async def test_a_port_in_use_is_one_line_and_no_claim_is_taken_back(
    sqlite_url: str, tmp_path: Path
) -> None:
    """The socket is bound before any worker starts: a busy port changes nothing in the store."""
    with context(sqlite_url, tmp_path) as ctx:
        creds = make_account(ctx)
        account = await accounts.find_account(ctx, creds.login)
        assert account is not None
        order = SmsOrder(message="Hi", recipients=[Recipient("0611111111")])
        await sending.send(ctx, account, order)
        now = datetime.now(UTC)
        lease = timedelta(minutes=5)
        claimed = await ctx.store.write(
            lambda conn: delivery_rows.claim_due(conn, "another-process", now, lease, 10)
        )
        assert len(claimed) == 1
        before = await ctx.store.read(message_states)
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        env = {
            "HIRONDELLE_DATABASE_URL": sqlite_url,
            "HIRONDELLE_VAR_DIR": str(tmp_path / "var"),
            "HIRONDELLE_SECRET_KEY": TEST_SECRET.decode(),
        }
        with Running(["serve", "--port", str(port)], cwd=tmp_path, env=env) as server:
            code, lines = server.finish()
    output = "\n".join(lines)
    assert code != 0, output
    assert [line for line in lines if line.strip()] == [lines[0]], output
    assert "--port" in lines[0] and str(port) in lines[0], output
    assert "Traceback" not in output
    with context(sqlite_url, tmp_path) as ctx:
        assert await ctx.store.read(message_states) == before


def message_states(conn: sa.Connection) -> list[tuple[object, ...]]:
    query = sa.select(messages.c.id, messages.c.state, messages.c.claimed_by, messages.c.attempts)
    return [tuple(row) for row in conn.execute(query)]


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (
            '[[connectors]]\nname = "op1"\nhost = "127.0.0.1"\nport = 2775\nsystem_id = "me"\n'
            'password_env = "HIRONDELLE_TEST_UNSET_PASSWORD"\n',
            "connector 'op1': its password_env variable HIRONDELLE_TEST_UNSET_PASSWORD is not set",
        ),
        ('database_url = "sqlite:///a-file/sms.db"\n', "Error: cannot open the database"),
    ],
)
def test_serve_stops_on_a_start_up_error_with_one_line(
    tmp_path: Path, setup: str, expected: str
) -> None:
    (tmp_path / "a-file").write_text("")
    (tmp_path / "hirondelle.toml").write_text(setup)
    env = {"HIRONDELLE_VAR_DIR": str(tmp_path / "var")}
    with Running(["serve", "--port", "0"], cwd=tmp_path, env=env) as server:
        code, lines = server.finish()
    output = "\n".join(lines)
    assert code != 0 and len(lines) == 1, output
    assert expected in lines[0]


def test_the_smpp_server_s_port_in_use_is_one_line(sqlite_url: str, tmp_path: Path) -> None:
    """Found by hand: a busy smpp_server_port failed the start of the workers inside uvicorn's
    lifespan, with two tracebacks."""
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        env = {
            "HIRONDELLE_DATABASE_URL": sqlite_url,
            "HIRONDELLE_VAR_DIR": str(tmp_path / "var"),
            "HIRONDELLE_SMPP_SERVER_HOST": "127.0.0.1",
            "HIRONDELLE_SMPP_SERVER_PORT": str(port),
        }
        with Running(["serve", "--port", "0"], cwd=tmp_path, env=env) as server:
            code, lines = server.finish()
    output = "\n".join(lines)
    assert code != 0 and "Traceback" not in output, output
    assert [line for line in lines if line.strip()] == [lines[0]], output
    assert "smpp_server_port" in lines[0] and str(port) in lines[0], output


def test_smpp_over_tls_without_a_certificate_is_refused_before_the_start(
    sqlite_url: str, tmp_path: Path
) -> None:
    settings = make_settings(sqlite_url, tmp_path, smpp_server_tls_port=0)
    with pytest.raises(PortUnavailable, match="needs tls_cert and tls_key"):
        check_smpp_server(settings)


def test_listen_says_which_option_to_change() -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        with pytest.raises(PortUnavailable, match=r"address already in use\): .* --port"):
            listen("127.0.0.1", port)
    with pytest.raises(PortUnavailable, match=r"^cannot listen on 192\.0\.2\.1:0 .*--host$"):
        listen("192.0.2.1", 0)  # TEST-NET-1: not an address of this machine
