"""SIGKILL of `hirondelle serve` in the middle of a campaign, then a restart (SQLite).

The SMSC simulator runs in this test's process (a thread with its own event loop), the server in
a child process. Every accepted message must reach a final status after the restart, and the
SMSC must have seen no more duplicates than the connector's window.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hirondelle.smpp.simulator import SmscSimulator
from tests.processes import wait_until

WINDOW = 50
MESSAGES = 20_000
PER_REQUEST = 2_000


class SimulatorThread:
    def __init__(self, **options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.simulator = SmscSimulator(
            **{"receipt_delay": 0.0, "resend_timeout": 1.0, "history": MESSAGES, **options}
        )
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> SimulatorThread:
        self.thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self.simulator.start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.simulator.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def simulator() -> Iterator[SimulatorThread]:
    with SimulatorThread() as sim:
        yield sim


def hirondelle(*args: str, env: dict[str, str], **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "hirondelle.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        **kwargs,  # type: ignore[call-overload]
    )


def start_server(env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[str], str]:
    server = hirondelle("serve", "--port", "0", env=env, cwd=cwd)
    assert server.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        if "listening on" in line:
            return server, line.rsplit(" ", 1)[-1].strip()
    server.kill()
    raise AssertionError("the server did not start")


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute(sql).fetchall()


def expected_status(phone: str) -> int:
    return {"0000": 2, "9999": 4, "8888": 5}.get(phone[-4:], 1)


def test_sigkill_mid_campaign_loses_nothing(simulator: SimulatorThread, tmp_path: Path) -> None:
    db = tmp_path / "hirondelle.db"
    (tmp_path / "hirondelle.toml").write_text(
        "[[connectors]]\n"
        f'name = "sim"\nhost = "127.0.0.1"\nport = {simulator.port}\nsystem_id = "test"\n'
        f"window = {WINDOW}\n"
    )
    env = {
        **os.environ,
        "HIRONDELLE_DATABASE_URL": f"sqlite:///{db}",
        "HIRONDELLE_VAR_DIR": str(tmp_path / "var"),
        "HIRONDELLE_DEMO_ACCOUNT": "false",
        "HIRONDELLE_LOG_FORMAT": "json",
    }
    command = ["accounts", "create", "bulk", "--credits", str(MESSAGES * 15), "--json"]
    created = subprocess.run(
        [sys.executable, "-m", "hirondelle.cli", *command],
        env=env, cwd=tmp_path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    api_key = json.loads(created.stdout)["apiKey"]

    server, base_url = start_server(env, tmp_path)
    try:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            for start in range(0, MESSAGES, PER_REQUEST):
                numbers = [f"06{12_000_000 + i:08d}" for i in range(start, start + PER_REQUEST)]
                feed = {
                    "DATA": {"MESSAGE": "Crash test", "SMS": [{"MOBILEPHONE": n} for n in numbers]}
                }
                answer = client.post(
                    "/http/9.0/sendSms",
                    data={"login": "bulk", "apiKey": api_key, "smsData": json.dumps(feed)},
                ).json()
                assert answer["status"] == 100, answer
        wait_until(lambda: simulator.simulator.records.submit_count >= MESSAGES // 4, 120)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(10)
    killed_at = query(db, "SELECT count(*) FROM messages WHERE state = 'final'")[0][0]
    assert killed_at < MESSAGES, "the campaign ended before the kill: nothing was tested"

    server, _base_url = start_server(env, tmp_path)
    try:
        wait_until(
            lambda: (
                query(db, "SELECT count(*) FROM messages WHERE state = 'final'")[0][0] == MESSAGES
            ),
            240,
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)

    rows = query(db, "SELECT phone, status FROM messages")
    assert len(rows) == MESSAGES
    wrong = [(phone, status) for phone, status in rows if status != expected_status(str(phone))]
    assert wrong == []
    duplicates = sum(n - 1 for n in simulator.simulator.records.duplicates().values())
    assert duplicates <= WINDOW
