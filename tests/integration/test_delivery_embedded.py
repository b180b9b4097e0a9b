"""The life of a message on the embedded default: API → dispatcher → SMPP → simulator → receipt."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import sqlalchemy as sa

from hirondelle.context import Context
from hirondelle.store import ledger
from hirondelle.store.accounts import find_by_login
from hirondelle.store.schema import blacklist, message_events, messages
from tests.helpers import json_answer, make_account


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def statuses(ctx: Context) -> dict[str, int]:
    return ctx.store.read_sync(
        lambda conn: {p: s for p, s in conn.execute(sa.select(messages.c.phone, messages.c.status))}
    )


def test_messages_reach_their_final_status(live) -> None:  # type: ignore[no-untyped-def]
    ctx, client = live
    creds = make_account(ctx, credits=1000)
    numbers = ["0611111111", "0622222222", "0633333333", "0611110000", "0611119999", "0611118888"]
    feed = {"DATA": {"MESSAGE": "Hello", "SMS": [{"MOBILEPHONE": n} for n in numbers]}}
    answer = json_answer(
        client.post("/http/9.0/sendSms", data=creds.params(smsData=json.dumps(feed)))
    )
    assert answer["status"] == 100
    assert answer["credits"] == 1000 - 6 * 15

    final = {"33611111111": 1, "33622222222": 1, "33633333333": 1,
             "33611110000": 2, "33611119999": 4, "33611118888": 5}  # fmt: skip
    wait_until(lambda: statuses(ctx) == final)

    alice = ctx.store.read_sync(lambda conn: find_by_login(conn, "alice")["id"])
    # the rejected message (9999) was refunded
    assert ctx.store.read_sync(lambda conn: ledger.balance_of(conn, alice)) == 1000 - 5 * 15
    refused = ctx.store.read_sync(
        lambda conn: conn.execute(sa.select(blacklist.c.phone, blacklist.c.comment)).all()
    )
    assert [tuple(r) for r in refused] == [("33611118888", "refused")]
    history = ctx.store.read_sync(
        lambda conn: conn.execute(sa.select(sa.func.count()).select_from(message_events)).scalar()
    )
    assert history >= 6 + 5  # submitted + final for each, rejected once
