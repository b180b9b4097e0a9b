"""The Symfony Notifier AllMySms bridge, unchanged, against `hirondelle serve` over HTTPS.

The bridge (Debian `php-symfony-all-my-sms-notifier`) hard-codes `https://` and the path
`/sms/send/`; its DSN's host and port point it at Hirondelle. The server is the real command,
`hirondelle serve --tls-cert --tls-key --port 0`, with a self-signed certificate that the PHP
client is given as its CA, a fresh SQLite store and the embedded SMSC simulator.

The Debian packages are installed when missing and apt can run (root, apt-get); otherwise the
test skips and says why. `.ci/run` installs them first and sets HIRONDELLE_TEST_REQUIRE_SYMFONY,
so in CI the test runs or fails.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hirondelle.context import Context
from hirondelle.store import Store
from hirondelle.store.engine import create_engine
from hirondelle.store.schema import messages
from tests.conftest import TEST_SECRET, make_settings
from tests.helpers import Creds, make_account

PACKAGES = ("php-cli", "php-symfony-all-my-sms-notifier")
#: Set by .ci/run: a missing bridge fails the test instead of skipping it.
REQUIRE_ENV = "HIRONDELLE_TEST_REQUIRE_SYMFONY"
SCRIPT = Path(__file__).resolve().parents[1] / "peers" / "php" / "send_with_symfony.php"
STOP_TEXT = "Your parcel left. STOP au 36180"


def missing_packages() -> list[str]:
    def installed(package: str) -> bool:
        probe = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True
        )
        return probe.returncode == 0 and "install ok installed" in probe.stdout

    if not shutil.which("dpkg-query"):
        return list(PACKAGES)
    return [package for package in PACKAGES if not installed(package)]


def symfony_bridge_ready() -> str | None:
    """None once the packages are there; otherwise the reason they could not be installed."""
    missing = missing_packages()
    if not missing:
        return None
    if not shutil.which("apt-get"):
        return f"{' '.join(missing)} missing and apt-get is not available to install them"
    if os.geteuid() != 0:
        return f"{' '.join(missing)} missing and installing them needs root (apt-get)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", *missing]
    for command in (install, ["apt-get", "update", "-qq"], install):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
        if done.returncode == 0 and command is install and not missing_packages():
            return None
    return f"apt-get could not install {' '.join(missing)}: {done.stderr.strip()[-300:]}"


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int
    lines: list[str]


@pytest.fixture(scope="module")
def bridge() -> None:
    reason = symfony_bridge_ready()
    if reason is None and not shutil.which("openssl"):
        reason = "the openssl command is needed to make a self-signed certificate"
    if reason is not None and os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{REQUIRE_ENV} is set but {reason}")
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture
def store(sqlite_url: str, tmp_path: Path) -> Iterator[Context]:
    settings = make_settings(sqlite_url, tmp_path)
    ctx = Context(store=Store(create_engine(sqlite_url)), settings=settings, secret=TEST_SECRET)
    yield ctx
    ctx.close()


@pytest.fixture
def tls(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path)


@pytest.fixture
def server(
    request: pytest.FixtureRequest,
    bridge: None,
    store: Context,
    tls: tuple[Path, Path],
    tmp_path: Path,
) -> Iterator[Server]:
    """`hirondelle serve` over HTTPS, the certificate given as options or (param "settings") as
    settings in the environment."""
    cert, key = tls
    as_settings = getattr(request, "param", "options") == "settings"
    env = {
        **os.environ,
        "HIRONDELLE_SECRET_KEY": TEST_SECRET.decode(),
        "HIRONDELLE_VAR_DIR": str(tmp_path / "var"),
        "HIRONDELLE_DEMO_ACCOUNT": "false",
        "HIRONDELLE_SIMULATOR_RECEIPT_DELAY": "0",
        "HIRONDELLE_PUBLIC_URL": "",
    }
    command = [
        str(Path(sys.executable).with_name("hirondelle")), "serve",
        "--host", "127.0.0.1", "--port", "0", "--database", store.settings.database_url,
    ]  # fmt: skip
    if as_settings:
        env.update(HIRONDELLE_TLS_CERT=str(cert), HIRONDELLE_TLS_KEY=str(key))
    else:
        command += ["--tls-cert", str(cert), "--tls-key", str(key)]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []
    threading.Thread(target=_forward_lines, args=(process, lines), daemon=True).start()
    try:
        port = _listening_port(lines, seen)
        yield Server(process, port, seen)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _forward_lines(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line)


def _listening_port(lines: queue.Queue[str], seen: list[str]) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=deadline - time.monotonic())
        except queue.Empty:
            break
        seen.append(line)
        if found := re.search(r"listening on https://127\.0\.0\.1:(\d+)", line):
            return int(found.group(1))
    raise AssertionError("hirondelle serve did not start:\n" + "".join(seen))


def symfony_send(server: Server, creds: Creds, cafile: Path, sender: str, text: str) -> Any:
    dsn = f"allmysms://{creds.login}:{creds.api_key}@127.0.0.1:{server.port}?from={sender}"
    done = subprocess.run(
        ["php", str(SCRIPT), dsn, str(cafile), "+33611111111", text],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def message_by_sms_id(ctx: Context, sms_id: str) -> Any:
    query = sa.select(messages).where(messages.c.sms_id == sms_id)
    return ctx.store.read_sync(lambda conn: conn.execute(query).mappings().first())


@pytest.mark.parametrize("server", ["options", "settings"], indirect=True)
def test_an_sms_sent_through_the_symfony_bridge_reaches_the_simulator(
    server: Server, store: Context, tls: tuple[Path, Path]
) -> None:
    creds = make_account(store, "shop", credits=1000)
    answer = symfony_send(server, creds, tls[0], "MyShop", STOP_TEXT)
    assert answer["ok"], answer
    assert answer["transport"] == f"allmysms://127.0.0.1:{server.port}?from=MyShop"
    row = message_by_sms_id(store, answer["messageId"])
    assert (row["phone"], row["sender"], row["text"]) == ("33611111111", "MyShop", STOP_TEXT)
    # Status 1 comes only from the simulator's delivery receipt: it got the submit_sm.
    wait_until(lambda: message_by_sms_id(store, answer["messageId"])["status"] == 1)
    assert message_by_sms_id(store, answer["messageId"])["state"] == "final"


@pytest.mark.parametrize(
    ("sender", "api_key", "error"),
    [
        ("Bad*Sender", None, 'Unable to send the SMS: "Invalid sender" (110).'),
        ("MyShop", "wrong-key", "(102)."),
    ],
    ids=["invalid-sender", "wrong-api-key"],
)
def test_refusals_surface_in_the_bridge_exception(
    server: Server,
    store: Context,
    tls: tuple[Path, Path],
    sender: str,
    api_key: str | None,
    error: str,
) -> None:
    creds = make_account(store, "shop", credits=1000)
    if api_key is not None:
        creds = Creds(creds.login, api_key)
    answer = symfony_send(server, creds, tls[0], sender, STOP_TEXT)
    assert not answer["ok"]
    assert answer["class"] == "Symfony\\Component\\Notifier\\Exception\\TransportException"
    assert answer["message"].endswith(error), answer["message"]
    assert (
        store.store.read_sync(
            lambda conn: conn.execute(sa.select(sa.func.count()).select_from(messages)).scalar()
        )
        == 0
    )
