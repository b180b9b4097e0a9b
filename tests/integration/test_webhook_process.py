"""The webhook sender in a child process (`webhook_process`, notify/sender_process.py): receipts
arrive signed and counted in /metrics, a child that dies is started again, and the child ends
with its parent — on a clean stop and on a SIGKILL of `hirondelle serve`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from hirondelle.app import create_app
from hirondelle.config import Settings
from hirondelle.notify.sender_process import WebhookProcess
from hirondelle.workers import Workers
from tests.conftest import make_settings
from tests.helpers import make_account
from tests.integration.test_delivery_embedded import wait_until
from tests.integration.test_webhooks import SECRET, all_final, api, open_ctx, send, webhook_metrics
from tests.integration.webhook_receiver import RECEIPT_DELAY, running_receiver
from tests.processes import Running


@pytest.fixture
def child_settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url,
        tmp_path,
        workers=True,
        allow_private_addresses=True,
        webhook_process=True,
        **RECEIPT_DELAY,
    )


def ended(pid: int) -> bool:
    """Whether process `pid` is gone (or a zombie nobody reaped yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_receipts_are_pushed_by_a_child_process_restarted_when_it_dies(
    child_settings: Settings,
) -> None:
    ctx = open_ctx(child_settings)
    creds = make_account(ctx)
    with running_receiver() as receiver, TestClient(create_app(ctx)) as client:
        workers: Workers = client.app.state.workers  # type: ignore[attr-defined]
        sender = workers.webhooks
        assert isinstance(sender, WebhookProcess)
        api(client, "setWebhooks", creds, receiptUrl=receiver.url("/dlr"), secret=SECRET)
        send(client, creds, "0611111111")
        wait_until(lambda: len(receiver.answered()) == 2 and all_final(ctx), 30)
        wait_until(lambda: webhook_metrics(client)["hirondelle_webhook_delivered_total"] == 2)
        first = sender.process
        assert first is not None and first.pid != os.getpid()

        first.kill()  # another child takes over; the counters go on from the first's
        send(client, creds, "0622222222")
        wait_until(lambda: len(receiver.answered()) == 4 and all_final(ctx), 30)
        wait_until(lambda: webhook_metrics(client)["hirondelle_webhook_delivered_total"] == 4)
        second = sender.process
        assert second is not None and second.pid != first.pid
    assert second.returncode == 0  # stopped with the app: end of its stdin, a clean exit
    hits = receiver.answered()
    assert all(hit.signed_with(SECRET) for hit in hits)
    assert [hit.params["status"] for hit in hits] == ["3", "1", "3", "1"]
    ctx.close()


def child_pids(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_the_child_ends_when_serve_is_killed(tmp_path: Path) -> None:
    env = {
        "HIRONDELLE_DEMO_ACCOUNT": "false",
        "HIRONDELLE_SIMULATOR_RECEIPT_DELAY": "0",
        "HIRONDELLE_WEBHOOK_PROCESS": "true",
    }
    with Running(["serve", "--port", "0"], cwd=tmp_path, env=env) as server:
        server.expect("listening on")
        pid = server.process.pid
        wait_until(lambda: bool(child_pids(pid)), 30)
        (child,) = child_pids(pid)
        assert "hirondelle.webhook_child" in Path(f"/proc/{child}/cmdline").read_text()
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        wait_until(lambda: ended(child), 30)


#: The child's end without its parent's: stdin still open, the thread watching it in its read.
EXIT_WHILE_WATCHING = """
import asyncio, threading, time
from hirondelle.notify.sender_process import _stop_at_end_of_input

async def main():
    _stop_at_end_of_input(asyncio.get_running_loop(), asyncio.Event())
    while "parent-watch" not in [thread.name for thread in threading.enumerate()]:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)  # into its read

asyncio.run(main())
"""


def test_the_child_exits_cleanly_while_it_watches_its_stdin() -> None:
    """As on a SIGTERM to the child alone (systemd signals every process of a unit, in no set
    order): a thread blocked reading sys.stdin held the buffer's lock, and the interpreter
    aborted on exit ("Fatal Python error: _enter_buffered_busy", status -6)."""
    child = subprocess.Popen(
        [sys.executable, "-c", EXIT_WHILE_WATCHING],
        stdin=subprocess.PIPE,  # kept open: the parent is alive
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        code = child.wait(30)
        assert child.stderr is not None
        errors = child.stderr.read()
    finally:
        assert child.stdin is not None
        child.stdin.close()
    assert code == 0, errors
    assert "Fatal Python error" not in errors
