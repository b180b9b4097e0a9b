"""Many concurrent one-message sends of a process, written as a few `send_many` transactions.

The SMPP server answers each submit_sm only once its send is committed, and a customer keeps a
window of submits outstanding on each bind: hundreds of single-message sends wait at once. One
`send` each is one savepoint of five statements on the store's single writer; `send_many` does a
whole set with one statement per table. `SendCoalescer.send` queues the order and returns (or
raises) exactly what `send` would, after the COMMIT of the batch that carried it.

No timer: a batch leaves as soon as fewer than `max_in_flight` batches are being written, and
the orders that arrive meanwhile wait for the next one (at most `max_batch`). Alone, a send goes
at once, in a batch of one; under load the batches grow with the load.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from hirondelle.context import Context
from hirondelle.services import access, sending
from hirondelle.services.accounts import Account
from hirondelle.services.planning import SendRefused, SmsOrder

log = logging.getLogger(__name__)

Waiting = tuple[Account, SmsOrder, "asyncio.Future[sending.SendOutcome]"]


class SendCoalescer:
    """`await coalescer.send(account, order)`: `sending.send(ctx, account, order)`, batched."""

    def __init__(self, ctx: Context, *, max_batch: int = 500, max_in_flight: int = 2) -> None:
        self.ctx = ctx
        self.max_batch = max_batch
        self.max_in_flight = max_in_flight
        self._waiting: deque[Waiting] = deque()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._scheduled = False

    async def send(self, account: Account, order: SmsOrder) -> sending.SendOutcome:
        """The order's SendOutcome once committed; SendRefused as `send` would raise it."""
        if order.master_account:  # its binding rolls back with its own debit only
            return await sending.send(self.ctx, account, order, method="submit_sm")
        # The messages/s limit, as `send` applies it: every recipient counts, a throttled order
        # is refused before it is queued, and a refused one gives its tokens back.
        tokens = len(order.recipients)
        access.admit_messages(self.ctx, account, tokens)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[sending.SendOutcome] = loop.create_future()
        self._waiting.append((account, order, future))
        self._schedule()
        try:
            return await future
        except Exception:
            access.give_back_messages(self.ctx, account, tokens)
            raise

    def _schedule(self) -> None:
        # call_soon: the submits decoded in the same turn of the loop join the same batch.
        if self._scheduled or len(self._in_flight) >= self.max_in_flight or not self._waiting:
            return
        self._scheduled = True
        asyncio.get_running_loop().call_soon(self._start)

    def _start(self) -> None:
        self._scheduled = False
        if len(self._in_flight) >= self.max_in_flight or not self._waiting:
            return
        count = min(self.max_batch, len(self._waiting))
        batch = [self._waiting.popleft() for _ in range(count)]
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._in_flight.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._schedule()

    async def _run(self, batch: list[Waiting]) -> None:
        try:
            answers = await sending.send_many(
                self.ctx, [(account, order) for account, order, _ in batch]
            )
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
