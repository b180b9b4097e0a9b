"""Helpers shared by tests: accounts with known keys, answer decoding."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from lxml import etree
from psycopg import pq

from hirondelle.context import Context
from hirondelle.services import accounts


@dataclass(frozen=True)
class Creds:
    login: str
    api_key: str

    def params(self, **extra: Any) -> dict[str, Any]:
        return {"login": self.login, "apiKey": self.api_key, **extra}


def make_account(ctx: Context, login: str = "alice", credits: int = 1000, **fields: Any) -> Creds:
    new = ctx.store.write_sync(
        lambda conn: accounts.insert_with_key(
            conn, ctx.secret, {"login": login, "timezone": "Europe/Paris", **fields}, credits
        )
    )
    return Creds(login, new.api_key)


def json_answer(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return orjson.loads(response.content)


def xml_answer(response: Any) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    return etree.fromstring(response.content)


@contextmanager
def server_waits(ctx: Context) -> Iterator[list[str]]:
    """The times the store's PostgreSQL connections waited for the server while in the block
    (a Sync closing a pipeline or an extended query, or a simple Query: one network round trip
    each), from libpq's protocol trace of every connection checked out meanwhile."""
    waits: list[str] = []
    with tempfile.TemporaryFile("w+") as trace:

        def traced(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            dbapi_connection.pgconn.trace(trace.fileno())
            dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)

        def untraced(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.pgconn.untrace()

        sa.event.listen(ctx.store.engine, "checkout", traced)
        sa.event.listen(ctx.store.engine, "checkin", untraced)
        try:
            yield waits
        finally:
            sa.event.remove(ctx.store.engine, "checkout", traced)
            sa.event.remove(ctx.store.engine, "checkin", untraced)
        trace.seek(0)
        sent = [line.split("\t") for line in trace.read().splitlines()]
        waits.extend(" ".join(f[2:]) for f in sent if f[0] == "F" and f[2] in ("Sync", "Query"))
