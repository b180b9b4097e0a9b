"""The background workers of `hirondelle serve`: SMPP connectors and the dispatcher.

With no connector configured, an SMSC simulator runs in-process and one connector points at it,
so a fresh install shows the whole life of a message (DESIGN.md §1).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time

from hirondelle.config import ConnectorConfig
from hirondelle.context import Context
from hirondelle.dispatch.connectors import Connector
from hirondelle.dispatch.dispatcher import Dispatcher
from hirondelle.dispatch.routing import Route, Router
from hirondelle.notify.webhooks import WebhookWorker
from hirondelle.services.email import run_email_sender
from hirondelle.services.operator import ConnectorStatus, save_connectors
from hirondelle.smpp.simulator import SmscSimulator
from hirondelle.smppserver.server import SmppServer, start_smpp_server

log = logging.getLogger(__name__)

SIMULATOR_CONNECTOR = "simulator"
#: Seconds between two snapshots of the connectors' state in the store.
STATUS_INTERVAL = 5.0


class Workers:
    """Start with `await start()`, stop with `await stop()` (in-flight submits finish first)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.simulator: SmscSimulator | None = None
        self.connectors: dict[str, Connector] = {}
        self.dispatcher: Dispatcher | None = None
        self._dispatch_task: asyncio.Task[None] | None = None
        self.webhooks: WebhookWorker | None = None
        self.smpp_server: SmppServer | None = None
        self._email_stop = asyncio.Event()
        self._email_task: asyncio.Task[None] | None = None
        self.started_at = time.monotonic()
        self.process = f"{socket.gethostname()}:{os.getpid()}"
        self._status_stop = asyncio.Event()
        self._status_task: asyncio.Task[None] | None = None

    def connectors_ready(self) -> bool:
        """True once a connector is bound, and during the start-up grace (readiness_grace)."""
        if any(connector.bound for connector in self.connectors.values()):
            return True
        return time.monotonic() - self.started_at < self.ctx.settings.readiness_grace

    def connector_statuses(self) -> list[ConnectorStatus]:
        """The connectors of this process, for the operators' area (services/operator.py)."""
        return [_status(connector) for connector in self.connectors.values()]

    async def start(self) -> None:
        self.started_at = time.monotonic()
        configs = list(self.ctx.settings.connectors)
        if not configs:
            self.simulator = SmscSimulator(receipt_delay=self.ctx.settings.simulator_receipt_delay)
            port = await self.simulator.start("127.0.0.1", 0)
            configs = [
                ConnectorConfig(
                    name=SIMULATOR_CONNECTOR,
                    host="127.0.0.1",
                    port=port,
                    system_id="hirondelle",
                    window=100,
                )
            ]
        for config in configs:
            connector = Connector.from_config(self.ctx, config)
            self.connectors[config.name] = connector
            await connector.start()
        router = Router([Route(c.name, tuple(c.prefixes)) for c in configs])
        self.dispatcher = Dispatcher(self.ctx, self.connectors, router)
        recovered = await self.dispatcher.recover()
        if recovered:
            log.warning("took back %d messages claimed by a previous process", recovered)
        self._dispatch_task = asyncio.create_task(self.dispatcher.run())
        self.webhooks = WebhookWorker.start(self.ctx)
        self._email_task = asyncio.create_task(run_email_sender(self.ctx, self._email_stop))
        self.smpp_server = await start_smpp_server(self.ctx)
        self._status_task = asyncio.create_task(self._write_statuses())

    async def _write_statuses(self) -> None:
        """Every STATUS_INTERVAL seconds, the connectors' state into the store for the
        operators' area of every process (services/operator.py)."""
        while not self._status_stop.is_set():
            try:
                await save_connectors(self.ctx, self.process, self.connector_statuses())
            except Exception:
                log.exception("could not write the connectors' status")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._status_stop.wait(), STATUS_INTERVAL)

    async def stop(self) -> None:
        if self.smpp_server is not None:  # first: no new submit while the rest stops
            await self.smpp_server.close()
        self._email_stop.set()
        self._status_stop.set()
        if self._status_task is not None:
            await _finish("the connectors' status writer", self._status_task)
        if self._email_task is not None:
            await _finish("the email sender", self._email_task)
        if self.webhooks is not None:
            await self.webhooks.stop()
        if self.dispatcher is not None:
            self.dispatcher.stop()
        if self._dispatch_task is not None:
            await _finish("the dispatcher", self._dispatch_task)
        for connector in self.connectors.values():
            await connector.close()
        if self.simulator is not None:
            await self.simulator.close()


def _status(connector: Connector) -> ConnectorStatus:
    session = connector.session
    stats = session.stats
    error = session.last_error
    return ConnectorStatus(
        name=connector.name,
        bound=session.bound,
        window=session.config.window,
        in_flight=sum(len(link.pending) for link in session.links),
        tps=session.config.tps or 0.0,
        submitted=stats.submitted,
        acknowledged=stats.acknowledged,
        rejected=stats.rejected,
        throttled=stats.throttled,
        timeouts=stats.timeouts,
        receipts=stats.receipts,
        last_error="" if error is None else f"{type(error).__name__}: {error}"[:300],
    )


async def _finish(what: str, task: asyncio.Task[None], timeout: float = 10.0) -> None:
    """Wait for a worker task to end; a failure or a hang is logged, never raised (the others
    must still stop)."""
    try:
        await asyncio.wait_for(task, timeout)
    except TimeoutError:
        log.error("%s did not stop within %.0f s; it was cancelled", what, timeout)
    except Exception:
        log.exception("%s failed while stopping", what)
