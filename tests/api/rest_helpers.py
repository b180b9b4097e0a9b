"""Helpers of the REST API tests: credentials, calls, and what the store holds afterwards."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from starlette.testclient import TestClient

from hirondelle.context import Context
from hirondelle.domain.statuses import AckStatus
from hirondelle.services import delivery
from hirondelle.services.delivery import ReceiptIn, SubmitResult
from hirondelle.store import delivery as delivery_rows
from hirondelle.store.accounts import find_by_login
from hirondelle.store.ledger import balance_of
from hirondelle.store.schema import campaigns, ledger, messages
from tests.conftest import count_rows
from tests.helpers import Creds, make_account


def make_alice(ctx: Context) -> Creds:
    return make_account(ctx, "alice", credits=1000, email="a@example.com", society="ACME")


def auth(creds: Creds) -> tuple[str, str]:
    return (creds.login, creds.api_key)


def post(client: TestClient, path: str, creds: Creds, body: Any, **kwargs: Any) -> Any:
    return client.post(path, json=body, auth=auth(creds), **kwargs)


def mobiles(count: int) -> list[str]:
    return [f"06120000{n:02d}" for n in range(count)]


def balance(ctx: Context, login: str) -> int:
    return ctx.store.read_sync(lambda conn: balance_of(conn, find_by_login(conn, login)["id"]))


def snapshot(ctx: Context, login: str) -> tuple[int, ...]:
    """What a send writes: campaigns, messages, ledger rows, and the balance."""
    return (
        *(count_rows(ctx, table) for table in (campaigns, messages, ledger)),
        balance(ctx, login),
    )


def message_rows(ctx: Context, campaign_id: str) -> list[Mapping[str, Any]]:
    db_id = sa.select(campaigns.c.id).where(campaigns.c.public_id == campaign_id).scalar_subquery()
    query = sa.select(messages).where(messages.c.campaign_id == db_id).order_by(messages.c.id)
    return ctx.store.read_sync(lambda conn: list(conn.execute(query).mappings()))


def assert_error(response: Any, status: int, code: int, description: str | None = None) -> Any:
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["code"] == code
    assert isinstance(answer["description"], str) and answer["description"]
    if description is not None:
        assert answer["description"] == description
    return answer


def submit_and_deliver(ctx: Context, status: int, at: datetime) -> None:
    """Hand every due message to a pretend SMSC, then give each the receipt `status`."""
    due = datetime.now(UTC) + timedelta(seconds=1)

    def claim_and_submit(conn: Connection) -> list[str]:
        claimed = delivery_rows.claim_due(conn, "test", due, timedelta(minutes=1), 1000)
        results = [SubmitResult(m.id, "accepted", "smsc", [f"id{m.id}"]) for m in claimed]
        delivery.apply_submit_results(conn, results, at)
        return [f"id{m.id}" for m in claimed]

    for smsc_id in ctx.store.write_sync(claim_and_submit):
        ctx.store.write_sync(
            lambda conn, i=smsc_id: delivery.apply_receipts(
                conn, "smsc", [ReceiptIn(i, AckStatus(status), "")], at
            )
        )
