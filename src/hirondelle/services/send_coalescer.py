"""Many concurrent small sends of a process, written as a few `send_many` transactions.

The SMPP server answers each submit_sm only once its send is committed, and a customer keeps a
window of submits outstanding on each bind; an HTTP customer sends over many connections at
once: hundreds of small sends wait at once. One transaction each, and on PostgreSQL one
account's sends commit one after the other (its balance row is locked until COMMIT);
`send_many` does a whole set with one statement per table and one COMMIT. `SendCoalescer.send`
queues the order and returns (or raises) exactly what `send` would, after the COMMIT of the
batch that carried it. The orders that arrive while a batch is written wait for it and go
together in the next; a second batch starts beside it only when enough wait (`OVERLAP_FROM`:
many for HTTP, one for an SMPP customer's windows).

`sending.send` is the one entry point: it takes the messages/s tokens, then hands the orders it
may batch to `coalescer_of(ctx, ...)`, the process's coalescer over `send_many` for that kind of
sender (HTTP or SMPP). They are kept on the Context (an attribute `Context` types loosely, since
context/ may not import services/) rather than in a dict here keyed by `id(ctx)`: an id is
reused once its Context is gone, and a coalescer dies with its Context. Each belongs to the
event loop that created it (its batches are tasks of that loop): on another loop (tests run one
per test) a new one is made.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, Literal, TypeVar

from hirondelle.context import Context
from hirondelle.services.accounts import Account
from hirondelle.services.planning import SendRefused, SmsOrder

log = logging.getLogger(__name__)

#: What a send answers (`sending.SendOutcome`; this module may not import sending: it imports us)
Outcome = TypeVar("Outcome")
#: `sending.send_many` for one Context: the answer of each order, in order
RunBatch = Callable[[list[tuple[Account, SmsOrder]]], Awaitable[Sequence[Outcome | SendRefused]]]
#: Who sends: the HTTP APIs and customer area, or the SMPP server's customers
SenderKind = Literal["http", "smpp"]


#: Orders waiting from which a second batch starts while one is being written, by kind of
#: sender. A batch has a fixed cost (a hop to the store's thread, its round trips, its COMMIT;
#: on PostgreSQL, the wait for the balance rows the other batch holds). HTTP: the 32
#: connections of each `web` process in B2 made batches of about 10 with two always in
#: flight, 20 to 30 with one, and 20 % less CPU per send. SMPP: a customer's windows are a
#: pipeline that waits on each answer, and a second batch in flight as soon as one order waits
#: keeps it flowing (4 binds of window 10: 2,582 and 2,779 submits/s, against 2,243 and 2,255
#: when they waited for 100).
OVERLAP_FROM: dict[SenderKind, int] = {"http": 100, "smpp": 1}


class SendCoalescer(Generic[Outcome]):
    """`await coalescer.send(account, order)`: `sending.send(ctx, account, order)`, batched.

    The caller has taken the messages/s tokens (`sending.send` does); no MASTERACCOUNT here.
    """

    def __init__(
        self,
        run: RunBatch[Outcome],
        *,
        max_batch: int = 500,
        max_in_flight: int = 2,
        overlap_from: int = OVERLAP_FROM["http"],
    ) -> None:
        self.run = run
        self.max_batch = max_batch
        self.max_in_flight = max_in_flight
        self.overlap_from = overlap_from
        self._waiting: deque[tuple[Account, SmsOrder, asyncio.Future[Outcome]]] = deque()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._scheduled = False
        self.loop: asyncio.AbstractEventLoop | None = None

    async def send(self, account: Account, order: SmsOrder) -> Outcome:
        """The order's SendOutcome once committed; SendRefused as `send` would raise it."""
        self.loop = loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        self._waiting.append((account, order, future))
        self._schedule()
        return await future

    def _may_start(self) -> bool:
        """None is being written, or enough orders wait to be worth a transaction beside it."""
        if not self._waiting or len(self._in_flight) >= self.max_in_flight:
            return False
        return not self._in_flight or len(self._waiting) >= self.overlap_from

    def _schedule(self) -> None:
        # call_soon: the submits decoded in the same turn of the loop join the same batch.
        if self._scheduled or not self._may_start():
            return
        self._scheduled = True
        asyncio.get_running_loop().call_soon(self._start)

    def _start(self) -> None:
        self._scheduled = False
        if not self._may_start():
            return
        count = min(self.max_batch, len(self._waiting))
        batch = [self._waiting.popleft() for _ in range(count)]
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._in_flight.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._schedule()

    async def _run(self, batch: list[tuple[Account, SmsOrder, asyncio.Future[Outcome]]]) -> None:
        try:
            answers = await self.run([(account, order) for account, order, _ in batch])
        except Exception as exc:  # the transaction failed: every order of it failed alike
            log.exception("a batch of %d sends failed", len(batch))
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, _, future), answer in zip(batch, answers, strict=True):
            if future.done():  # its caller went away; the send stands, as with `send`
                continue
            if isinstance(answer, SendRefused):
                future.set_exception(answer)
            else:
                future.set_result(answer)

    async def close(self) -> None:
        """Wait for the batches being written (the waiting ones go in them first)."""
        while self._in_flight or self._waiting:
            if self._in_flight:
                await asyncio.wait(set(self._in_flight))
            else:
                self._start()


def coalescer_of(ctx: Context, run: RunBatch[Outcome], kind: SenderKind) -> SendCoalescer[Outcome]:
    """The coalescer of `ctx` for `kind` of sender (OVERLAP_FROM) on the running event loop,
    made (over `run`) at its first use."""
    loop = asyncio.get_running_loop()
    current = ctx.send_coalescers.get(kind)
    if isinstance(current, SendCoalescer) and current.loop in (None, loop):
        return current
    made: SendCoalescer[Outcome] = SendCoalescer(run, overlap_from=OVERLAP_FROM[kind])
    ctx.send_coalescers[kind] = made
    return made


async def drain(ctx: Context) -> None:
    """Wait for the sends of `ctx`'s coalescers (before its store closes)."""
    loop = asyncio.get_running_loop()
    for current in list(ctx.send_coalescers.values()):
        if isinstance(current, SendCoalescer) and current.loop in (None, loop):
            await current.close()
