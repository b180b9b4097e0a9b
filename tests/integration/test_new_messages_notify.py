"""Messages queued by one process wake the workers of the others (PostgreSQL LISTEN/NOTIFY):
a send commits a NOTIFY, a refused one does not, and a listener whose connection is killed
listens again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from hirondelle.context import Context
from hirondelle.services import accounts, sending
from hirondelle.services.accounts import Account
from hirondelle.services.planning import Recipient, SendRefused, SmsOrder
from hirondelle.store.notifications import APPLICATION_NAME, CHANNEL, connect_params, listen
from hirondelle.workers import Workers
from tests.conftest import postgres_context

pytestmark = [pytest.mark.postgres, pytest.mark.anyio]

#: Seconds to wait for what must happen (a deadline on a loaded machine, not a measure).
DEADLINE = 30.0


@pytest.fixture
def sender(pg_ctx: Context) -> Context:
    """The process that queues messages (a `web` process): a Context of its own."""
    return pg_ctx


async def alice(ctx: Context) -> Account:
    await accounts.create_account(ctx, "alice", credits=1000)
    account = await accounts.find_account(ctx, "alice")
    assert account is not None
    return account


class Wakeups:
    """What a worker's dispatcher would see: how many times it was woken."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = asyncio.Event()

    def __call__(self) -> None:
        self.count += 1
        self.changed.set()

    async def reach(self, count: int) -> None:
        async with asyncio.timeout(DEADLINE):
            while self.count < count:
                self.changed.clear()
                await self.changed.wait()


@contextlib.asynccontextmanager
async def listening(url: str) -> AsyncIterator[Wakeups]:
    """A listener like a worker's, once it listens (its first wake-up: the catch-up)."""
    wakeups = Wakeups()
    task = asyncio.create_task(listen(sa.engine.make_url(url), wakeups))
    try:
        await wakeups.reach(1)
        yield wakeups
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def order(*mobiles: str) -> SmsOrder:
    return SmsOrder(message="Hello", recipients=[Recipient(mobile=m) for m in mobiles])


async def test_a_send_of_another_process_wakes_the_listener(
    postgres_url: str, sender: Context, anyio_backend: str
) -> None:
    account = await alice(sender)
    async with listening(postgres_url) as wakeups:
        await sending.send(sender, account, order("0611111111"))  # a small send: batched
        await wakeups.reach(2)
        # A bulk send (its own transaction, not batched) too.
        await sending.send(sender, account, order("0622222222", "0633333333"), coalesce=False)
        await wakeups.reach(3)


async def test_a_refused_send_wakes_nobody(
    postgres_url: str, sender: Context, anyio_backend: str
) -> None:
    """What the channel carries, in commit order, up to a marker the test sends last: a
    refused send's NOTIFY would come before it."""
    await accounts.create_account(sender, "broke", credits=0)
    broke = await accounts.find_account(sender, "broke")
    assert broke is not None
    account = await alice(sender)
    params = connect_params(sa.engine.make_url(postgres_url))
    with psycopg.connect(**params) as conn:
        conn.execute(f"LISTEN {CHANNEL}")
        with pytest.raises(SendRefused):
            await sending.send(sender, broke, order("0611111111"))  # batched, rolled back
        with pytest.raises(SendRefused):
            await sending.send(sender, broke, order("0611111111", "0622222222"), coalesce=False)
        await sending.send(sender, account, order("0633333333"))
        conn.execute(f"NOTIFY {CHANNEL}, 'marker'")
        heard = []
        for notify in conn.notifies(timeout=DEADLINE):
            heard.append(notify.payload)
            if notify.payload == "marker":
                break
    assert heard == ["", "marker"]  # alice's send, then the marker: nothing from the refused


def listeners(admin: sa.Engine, select: str = "count(*)") -> int:
    """`select` over the listeners' connections to this database: how many there are, or what
    `select` did to them."""
    sql = (
        f"SELECT {select} FROM pg_stat_activity"
        " WHERE application_name = :name AND datname = current_database()"
    )
    with admin.connect() as conn:
        return int(conn.execute(sa.text(sql), {"name": APPLICATION_NAME}).scalar_one())


async def test_a_listener_whose_connection_is_killed_listens_again(
    postgres_url: str, sender: Context, anyio_backend: str
) -> None:
    account = await alice(sender)
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    async with listening(postgres_url) as wakeups:
        assert listeners(admin, "count(pg_terminate_backend(pid))") == 1  # as a restart would
        await wakeups.reach(2)  # connected again: it looks at once, in case it missed some
        await sending.send(sender, account, order("0611111111"))
        await wakeups.reach(3)
    admin.dispose()


async def test_a_worker_is_woken_by_what_a_web_process_queued(
    postgres_url: str, sender: Context, tmp_path: Path, anyio_backend: str
) -> None:
    """The worker role listens from its start to its stop, and wakes its dispatcher."""
    worker = postgres_context(postgres_url, tmp_path / "worker")
    woken = Wakeups()
    wake_dispatcher = worker.notify_new_messages

    def notify() -> None:
        woken()
        wake_dispatcher()

    worker.notify_new_messages = notify  # type: ignore[method-assign]
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    workers = Workers(worker)
    try:
        await workers.start()
        await woken.reach(1)  # listening (and looking once, in case)
        assert listeners(admin) == 1
        await sending.send(sender, await alice(sender), order("0611111111"))
        await woken.reach(2)
        submitted = sa.text("SELECT count(*) FROM messages WHERE state IN ('submitted', 'final')")
        async with asyncio.timeout(DEADLINE):
            while await sender.store.read(lambda c: c.execute(submitted).scalar()) != 1:
                await asyncio.sleep(0.05)
    finally:
        await workers.stop()
        worker.close()
    assert listeners(admin) == 0  # stopped with the worker: no connection left behind
    admin.dispose()
