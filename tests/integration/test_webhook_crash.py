"""SIGKILL of `hirondelle serve` while receipts are being pushed, then a restart (SQLite, and
PostgreSQL, where a batch of receipts commits in the pipeline of its webhook events).

Every message must get its final receipt to the receiver; each call carries its event id and is
signed, so the receiver can drop the duplicates — at most the events sent and not yet recorded
when the process died (UNRECORDED times `webhook_concurrency` for one destination).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from hirondelle.notify.webhook_destinations import UNRECORDED
from tests.integration.test_crash_recovery import (
    SimulatorThread,
    simulator,
    start_server,
    wait_until,
)
from tests.integration.webhook_receiver import Receiver, running_receiver

MESSAGES = 2_000
PER_REQUEST = 1_000
CONCURRENCY = 8
SECRET = "s3cret-for-the-crash-test"
__all__ = ["simulator"]  # a fixture: the SMSC outlives the server, as a real one would


def cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "hirondelle.cli", *args],
        env=env, cwd=cwd, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout


def finals(receiver: Receiver) -> set[str]:
    return {hit.params["smsId"] for hit in receiver.answered() if hit.params["status"] != "3"}


def test_sigkill_while_pushing_receipts_loses_none(
    simulator: SimulatorThread, tmp_path: Path, database_url: str
) -> None:
    (tmp_path / "hirondelle.toml").write_text(
        "[[connectors]]\n"
        f'name = "sim"\nhost = "127.0.0.1"\nport = {simulator.port}\nsystem_id = "test"\n'
    )
    env = {
        **os.environ,
        "HIRONDELLE_DATABASE_URL": database_url,
        "HIRONDELLE_VAR_DIR": str(tmp_path / "var"),
        "HIRONDELLE_DEMO_ACCOUNT": "false",
        "HIRONDELLE_LOG_FORMAT": "json",
        "HIRONDELLE_ALLOW_PRIVATE_ADDRESSES": "true",
        "HIRONDELLE_WEBHOOK_TIMEOUT": "1",  # leases of the killed process end 7 s later
        "HIRONDELLE_WEBHOOK_CONCURRENCY": str(CONCURRENCY),
    }
    command = ["accounts", "create", "bulk", "--credits", str(MESSAGES * 15), "--json"]
    api_key = json.loads(cli(env, tmp_path, *command))["apiKey"]
    with running_receiver() as receiver:
        url = receiver.url("/dlr")
        cli(env, tmp_path, "webhooks", "set", "bulk", "--receipt-url", url, "--secret", SECRET)
        sms_ids: set[str] = set()
        server, base_url = start_server(env, tmp_path)
        try:
            with httpx.Client(base_url=base_url, timeout=60) as client:
                for start in range(0, MESSAGES, PER_REQUEST):
                    numbers = [f"06{13_000_000 + i:08d}" for i in range(start, start + PER_REQUEST)]
                    sms = [{"MOBILEPHONE": n} for n in numbers]
                    feed = {"DATA": {"MESSAGE": "Crash test", "SMS": sms}}
                    answer = client.post(
                        "/http/9.0/sendSms",
                        data={"login": "bulk", "apiKey": api_key, "smsData": json.dumps(feed)},
                    ).json()
                    assert answer["status"] == 100, answer
                    sms_ids |= {item["smsId"] for item in answer["smsIds"]}
            wait_until(lambda: len(receiver.hits) >= MESSAGES // 4, 60)
        finally:
            server.send_signal(signal.SIGKILL)
            server.wait(10)
        assert len(finals(receiver)) < MESSAGES, "all pushed before the kill: nothing was tested"

        server, _base_url = start_server(env, tmp_path)
        try:
            wait_until(lambda: finals(receiver) == sms_ids, 90)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)
        hits = receiver.answered()

    assert all(hit.signed_with(SECRET) for hit in hits)
    ids = [hit.event_id for hit in hits]
    assert all(ids)
    assert len(ids) - len(set(ids)) <= UNRECORDED * CONCURRENCY
