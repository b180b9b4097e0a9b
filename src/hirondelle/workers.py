"""The worker role: what runs beside HTTP in `hirondelle serve`, alone in `hirondelle worker`.

`Workers.start` starts, in order:

1. the SMPP connectors this process owns: all of them on SQLite (one process); on PostgreSQL
   those whose advisory lock it holds (dispatch/ownership.py), looked for every 2 seconds, so
   any number of workers share the connectors and a dead one's are taken over;
2. the dispatcher, routing only to those connectors and claiming only the numbers they serve;
3. the webhook sender and the email sender;
4. (place for the SMPP server for customers, when it comes: a role part like the others.)

With no connector configured, an SMSC simulator runs in-process and one connector points at it,
so a fresh install shows the whole life of a message (DESIGN.md §1).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from hirondelle.config import ConnectorConfig
from hirondelle.context import Context
from hirondelle.dispatch.connectors import Connector
from hirondelle.dispatch.dispatcher import Dispatcher
from hirondelle.dispatch.ownership import ConnectorOwnership
from hirondelle.dispatch.routing import Route, Router, owned_numbers
from hirondelle.notify.webhooks import WebhookWorker
from hirondelle.services.email import run_email_sender
from hirondelle.smpp.simulator import SmscSimulator
from hirondelle.store.locks import LockConnection

log = logging.getLogger(__name__)

SIMULATOR_CONNECTOR = "simulator"


class Workers:
    """Start with `await start()`, stop with `await stop()` (in-flight submits finish first)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.simulator: SmscSimulator | None = None
        self.configs: dict[str, ConnectorConfig] = {}
        self.routes: list[Route] = []
        #: the connectors this process owns and runs, by name
        self.connectors: dict[str, Connector] = {}
        self.ownership: ConnectorOwnership | None = None
        self._ownership_task: asyncio.Task[None] | None = None
        self.dispatcher: Dispatcher | None = None
        self._dispatch_task: asyncio.Task[None] | None = None
        self.webhooks: WebhookWorker | None = None
        self._email_stop = asyncio.Event()
        self._email_task: asyncio.Task[None] | None = None
        self.started_at = time.monotonic()

    def connectors_ready(self) -> bool:
        """True once a connector is bound, during the start-up grace (readiness_grace), and
        for a worker that owns no connector (another one does: this one stands by)."""
        if self.ownership is not None and not self.connectors:
            return True
        if any(connector.bound for connector in self.connectors.values()):
            return True
        return time.monotonic() - self.started_at < self.ctx.settings.readiness_grace

    async def start(self) -> None:
        self.started_at = time.monotonic()
        configs = await self._connector_configs()
        self.configs = {config.name: config for config in configs}
        self.routes = [Route(c.name, tuple(c.prefixes)) for c in configs]
        lease = timedelta(seconds=self.ctx.settings.claim_lease)
        self.dispatcher = Dispatcher(self.ctx, {}, Router(self.routes), lease=lease)
        if self.ctx.store.is_sqlite:  # one process: every connector is ours
            for name in self.configs:
                await self._acquire(name)
            recovered = await self.dispatcher.recover()
            if recovered:
                log.warning("took back %d messages claimed by a previous process", recovered)
        else:  # any number of workers: a connector is the one holding its lock's
            locks = LockConnection(self.ctx.store.engine.url)
            self.ownership = ConnectorOwnership(
                list(self.configs), locks, self._acquire, self._lose
            )
            await self.ownership.poll()
            self._ownership_task = asyncio.create_task(self.ownership.run())
        self._dispatch_task = asyncio.create_task(self.dispatcher.run())
        self.webhooks = WebhookWorker.start(self.ctx)
        self._email_task = asyncio.create_task(run_email_sender(self.ctx, self._email_stop))

    async def _connector_configs(self) -> list[ConnectorConfig]:
        configs = list(self.ctx.settings.connectors)
        if configs:
            return configs
        self.simulator = SmscSimulator(receipt_delay=self.ctx.settings.simulator_receipt_delay)
        port = await self.simulator.start("127.0.0.1", 0)
        return [
            ConnectorConfig(
                name=SIMULATOR_CONNECTOR,
                host="127.0.0.1",
                port=port,
                system_id="hirondelle",
                window=100,
            )
        ]

    async def _acquire(self, name: str) -> None:
        """This process owns connector `name` from now on: bind it and route to it."""
        connector = Connector.from_config(self.ctx, self.configs[name])
        self.connectors[name] = connector
        await connector.start()
        assert self.dispatcher is not None
        self.dispatcher.add_connector(connector)
        self._refilter()

    async def _lose(self, name: str) -> None:
        """Connector `name` is no longer ours: stop routing to it, then unbind."""
        connector = self.connectors.pop(name, None)
        if self.dispatcher is not None:
            self.dispatcher.remove_connector(name)
            self._refilter()
        if connector is not None:
            await connector.close()

    def _refilter(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.numbers = owned_numbers(self.routes, set(self.connectors))

    async def stop(self) -> None:
        if self.ownership is not None:
            self.ownership.stop()
        if self._ownership_task is not None:
            await _finish("the connector ownership", self._ownership_task)
        self._email_stop.set()
        if self._email_task is not None:
            await _finish("the email sender", self._email_task)
        if self.webhooks is not None:
            await self.webhooks.stop()
        if self.dispatcher is not None:
            self.dispatcher.stop()
        if self._dispatch_task is not None:
            await _finish("the dispatcher", self._dispatch_task)
        if self.ownership is not None:
            await self.ownership.release()  # unbinds, then drops the locks
        for name in list(self.connectors):
            await self._lose(name)
        if self.simulator is not None:
            await self.simulator.close()


async def _finish(what: str, task: asyncio.Task[None], timeout: float = 10.0) -> None:
    """Wait for a worker task to end; a failure or a hang is logged, never raised (the others
    must still stop)."""
    try:
        await asyncio.wait_for(task, timeout)
    except TimeoutError:
        log.error("%s did not stop within %.0f s; it was cancelled", what, timeout)
    except Exception:
        log.exception("%s failed while stopping", what)
