"""The worker role: what runs beside HTTP in `hirondelle serve`, alone in `hirondelle worker`.

`Workers.start` starts, in order:

1. the SMPP connectors this process owns: all of them on SQLite (one process); on PostgreSQL
   those whose advisory lock it holds (dispatch/ownership.py), looked for every 2 seconds, so
   any number of workers share the connectors and a dead one's are taken over;
2. the dispatcher, routing only to those connectors and claiming only the numbers they serve;
   on PostgreSQL it is woken by a LISTEN as soon as another process queues messages
   (store/notifications.py), not at its next idle tick;
3. the webhook sender (in a child process of its own when `webhook_process` is on:
   notify/sender_process.py) and the email sender;
4. (place for the SMPP server for customers, when it comes: a role part like the others.)

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
from datetime import timedelta

from hirondelle.config import ConnectorConfig
from hirondelle.context import Context
from hirondelle.dispatch.connectors import Connector
from hirondelle.dispatch.dispatcher import Dispatcher
from hirondelle.dispatch.ownership import ConnectorOwnership
from hirondelle.dispatch.routing import Route, Router, owned_numbers
from hirondelle.notify.sender_process import WebhookProcess
from hirondelle.notify.webhooks import WebhookWorker
from hirondelle.services.email import run_email_sender
from hirondelle.services.operator import ConnectorStatus, save_connectors
from hirondelle.smpp.simulator import SmscSimulator
from hirondelle.smppserver.server import SmppServer, start_smpp_server
from hirondelle.store.locks import LockConnection
from hirondelle.store.notifications import listen

log = logging.getLogger(__name__)

SIMULATOR_CONNECTOR = "simulator"
#: Seconds between two snapshots of the connectors' state in the store.
STATUS_INTERVAL = 5.0
#: Seconds before a dispatcher that failed is started again.
DISPATCHER_RESTART = 1.0


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
        self._listen_task: asyncio.Task[None] | None = None
        self.dispatcher: Dispatcher | None = None
        self._dispatch_task: asyncio.Task[None] | None = None
        self.webhooks: WebhookWorker | WebhookProcess | None = None
        self.smpp_server: SmppServer | None = None
        self._email_stop = asyncio.Event()
        self._email_task: asyncio.Task[None] | None = None
        self.started_at = time.monotonic()
        self.process = f"{socket.gethostname()}:{os.getpid()}"
        self._status_stop = asyncio.Event()
        self._status_task: asyncio.Task[None] | None = None

    def connectors_ready(self) -> bool:
        """True once a connector is bound, during the start-up grace (readiness_grace), and
        for a worker that owns no connector (another one does: this one stands by)."""
        if self.ownership is not None and not self.connectors:
            return True
        if any(connector.bound for connector in self.connectors.values()):
            return True
        return time.monotonic() - self.started_at < self.ctx.settings.readiness_grace

    def connector_statuses(self) -> list[ConnectorStatus]:
        """The connectors of this process, for the operators' area (services/operator.py)."""
        return [_status(connector) for connector in self.connectors.values()]

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
            # Messages queued by other processes (`hirondelle web`) wake the dispatcher at once.
            url = self.ctx.store.engine.url
            self._listen_task = asyncio.create_task(listen(url, self.ctx.notify_new_messages))
        self._run_dispatcher()
        if self.ctx.settings.webhook_process and _shareable(self.ctx):  # a second core
            self.webhooks = WebhookProcess.start(self.ctx)
        else:
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

    def _run_dispatcher(self) -> None:
        assert self.dispatcher is not None
        self._dispatch_task = asyncio.create_task(self.dispatcher.run())
        self._dispatch_task.add_done_callback(self._dispatcher_ended)

    def _dispatcher_ended(self, task: asyncio.Task[None]) -> None:
        """A dispatcher that failed is started again: a worker that holds its connectors' locks
        but no longer claims stalls them for the whole cluster, and nothing else would say so.
        (A failed claim no longer ends it; this is for what nobody foresaw.)"""
        if task.cancelled() or task.exception() is None:
            return
        log.error("the dispatcher failed; starting it again in a second", exc_info=task.exception())
        asyncio.get_running_loop().call_later(DISPATCHER_RESTART, self._restart_dispatcher)

    def _restart_dispatcher(self) -> None:
        if self.dispatcher is not None and not self.dispatcher.stopping:
            self._run_dispatcher()

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
        if self.smpp_server is not None:  # first: no new submit while the rest stops
            await self.smpp_server.close()
        if self.ownership is not None:
            self.ownership.stop()
        if self._ownership_task is not None:
            await _finish("the connector ownership", self._ownership_task)
        self._email_stop.set()
        self._status_stop.set()
        if self._status_task is not None:
            await _finish("the connectors' status writer", self._status_task)
        if self._email_task is not None:
            await _finish("the email sender", self._email_task)
        if self.webhooks is not None:
            await self.webhooks.stop()
        if self._listen_task is not None:
            self._listen_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listen_task
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


def _shareable(ctx: Context) -> bool:
    """Whether another process can open this store (not an in-memory SQLite database)."""
    url = ctx.store.engine.url
    return not ctx.store.is_sqlite or url.database not in (None, "", ":memory:")


def _status(connector: Connector) -> ConnectorStatus:
    """The connector's state, summed over its binds (the last error of the first bind that has
    one)."""
    sessions = connector.sessions
    errors = [s.last_error for s in sessions if s.last_error is not None]

    def total(field: str) -> int:
        return sum(int(getattr(s.stats, field)) for s in sessions)

    return ConnectorStatus(
        name=connector.name,
        bound=connector.bound,
        window=sum(s.config.window for s in sessions),
        in_flight=sum(len(link.pending) for s in sessions for link in s.links),
        tps=connector.session.config.tps or 0.0,
        submitted=total("submitted"),
        acknowledged=total("acknowledged"),
        rejected=total("rejected"),
        throttled=total("throttled"),
        timeouts=total("timeouts"),
        receipts=total("receipts"),
        last_error=f"{type(errors[0]).__name__}: {errors[0]}"[:300] if errors else "",
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
