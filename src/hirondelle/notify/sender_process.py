"""The webhook sender in a child process: the calls and their outcomes on a core of their own.

One interpreter runs `hirondelle serve`'s HTTP API, SMPP connectors and store writer; the webhook
sender took about a fifth of it at full delivery speed (bench B9). With `webhook_process` on
(the default; see docs/webhooks.md for the figures), the worker role starts the sender as a child
(`python -m hirondelle.webhook_child`) instead of in its own event loop:

- the parent writes its settings (one JSON line, the secret key resolved) to the child's stdin
  and keeps that pipe open; the child stops when it reads end-of-file, so it ends with its
  parent however the parent ends (a SIGKILL too) — after finishing the calls in flight and
  recording them, as the sender in-process does on shutdown;
- both open the same store. SQLite in WAL mode lets several processes read and write one file
  (one writer at a time: each process's writer takes the write lock with BEGIN IMMEDIATE and
  waits for the other's commit within `busy_timeout`); on PostgreSQL the claims already lock
  their rows. The outbox leases make a second sender harmless: a child that dies leaves its
  events leased, and they become due again when the lease ends;
- a child that dies is started again after a second;
- the child writes its counters on stdout (one JSON line when they changed, at most once a
  second); the parent adds them up for `/metrics`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sys
import threading
from typing import Any

import orjson

from hirondelle.config import Settings
from hirondelle.context import Context
from hirondelle.notify.webhooks import WebhookStats, run_webhook_sender
from hirondelle.store.engine import open_store

log = logging.getLogger(__name__)

CHILD_MODULE = "hirondelle.webhook_child"  # its entry point: logs, loop, then run_child
RESTART_DELAY = 1.0  # seconds before a child that died is started again
STATS_INTERVAL = 1.0  # seconds between two counter lines of the child
STOP_MARGIN = 10.0  # seconds, beyond the sender's own stop deadline, before a child is killed


class WebhookProcess:
    """The parent's handle: `WebhookProcess.start(ctx)`, later `await stop()`; `stats` adds
    up the counters of the children started so far."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.stats = WebhookStats()
        self.process: asyncio.subprocess.Process | None = None
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._supervise())

    @classmethod
    def start(cls, ctx: Context) -> WebhookProcess:
        return cls(ctx)

    async def _supervise(self) -> None:
        while True:
            try:
                code: int | None = await self._run_child()
            except Exception:
                log.exception("the webhook sender process could not run")
                code = None
            # A SIGTERM to the whole group (systemd's stop) ends the child first: its parent
            # is stopping too, and says so within the delay.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), RESTART_DELAY)
            if self._stopping.is_set():
                return
            log.warning("the webhook sender process ended (status %s): starting another", code)

    async def _run_child(self) -> int:
        """Start one child, follow its counters until it ends; its exit status."""
        settings = self.ctx.settings.model_copy(update={"secret_key": self.ctx.secret.decode()})
        process = self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            CHILD_MODULE,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(settings.model_dump_json().encode() + b"\n")
        with contextlib.suppress(ConnectionError):
            await process.stdin.drain()
        if self._stopping.is_set():  # stopped while this child started
            self._close_input()
        before = dataclasses.replace(self.stats)  # what the children before this one counted
        async for line in process.stdout:
            with contextlib.suppress(ValueError, TypeError):
                counts = orjson.loads(line)
                for field in dataclasses.fields(WebhookStats):
                    total = getattr(before, field.name) + int(counts.get(field.name, 0))
                    setattr(self.stats, field.name, total)
        return await process.wait()

    async def stop(self) -> None:
        """End of file on the child's stdin: it finishes its calls in flight, records them and
        exits; killed if it has not within the sender's deadline."""
        self._stopping.set()
        self._close_input()
        deadline = 2 * self.ctx.settings.webhook_timeout + STOP_MARGIN
        try:
            await asyncio.wait_for(asyncio.shield(self._task), deadline)
        except TimeoutError:
            log.error("the webhook sender process did not stop within %.0f s", deadline)
            if self.process is not None and self.process.returncode is None:
                self.process.kill()
            with contextlib.suppress(Exception):
                await self._task

    def _close_input(self) -> None:
        process = self.process
        if process is not None and process.stdin is not None and process.returncode is None:
            process.stdin.close()


# -- the child -----------------------------------------------------------------------------------


async def _report(stats: WebhookStats, stop: asyncio.Event) -> None:
    """The counters on stdout when they changed, at most once a STATS_INTERVAL."""
    last: dict[str, Any] = {}
    while True:
        counts = dataclasses.asdict(stats)
        if counts != last:
            try:
                sys.stdout.buffer.write(orjson.dumps(counts) + b"\n")
                sys.stdout.buffer.flush()
            except OSError:  # the parent is gone (the end is near): nothing more to tell
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            last = counts
        if stop.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), STATS_INTERVAL)


def _stop_at_end_of_input(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Set `stop` once stdin ends: the parent closed it, or died."""
    stdin = sys.stdin.fileno()

    def watch() -> None:
        # The file descriptor, not sys.stdin: a read blocked in its buffer holds the buffer's
        # lock, and an interpreter exiting on SIGTERM (systemd signals the whole unit, this
        # child too) then aborted: "Fatal Python error: _enter_buffered_busy".
        with contextlib.suppress(OSError):
            while os.read(stdin, 4096):
                pass
        with contextlib.suppress(RuntimeError):  # the loop already closed
            loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def read_settings() -> Settings | None:
    """The settings the parent wrote on stdin; None when it died before it did."""
    line = sys.stdin.buffer.readline()
    return Settings.model_validate_json(line) if line else None


async def run_child(settings: Settings) -> None:
    """The sender on the parent's store, until stdin ends (or SIGTERM)."""
    ctx = Context(
        store=open_store(settings.database_url, migrate=False),  # the parent migrated it
        settings=settings,
        secret=settings.secret_key.encode(),
    )
    try:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        # Ctrl-C reaches the whole process group: the parent stops, then closes our stdin (a
        # child stopping on its own first would look dead to it, and be started again).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _stop_at_end_of_input(loop, stop)
        stats = WebhookStats()
        reporter = asyncio.create_task(_report(stats, stop))
        await run_webhook_sender(ctx, stop, stats)
        stop.set()
        await reporter
    finally:
        ctx.close()
