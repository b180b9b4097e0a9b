"""Signed-in clients and store fixtures for the tests of the customer area's pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from starlette.testclient import TestClient

from hirondelle.context import Context
from hirondelle.services.replies import apply_reply
from hirondelle.store.schema import accounts
from tests.web.test_account import csrf_of, sign_in, with_password


def account_id(ctx: Context, login: str) -> int:
    return int(
        ctx.store.read_sync(
            lambda conn: conn.execute(
                sa.select(accounts.c.id).where(accounts.c.login == login)
            ).scalar_one()
        )
    )


def signed_in(
    client: TestClient, ctx: Context, login: str, credits: int = 1000, **fields: object
) -> TestClient:
    """`client` signed in as a new account `login` (password tests.web.test_account.PASSWORD)."""
    with_password(ctx, login, credits)
    if fields:
        ctx.store.write_sync(
            lambda conn: conn.execute(
                sa.update(accounts).where(accounts.c.login == login).values(**fields)
            )
        )
    assert sign_in(client, login).status_code == 303
    return client


def token(client: TestClient, path: str) -> str:
    """The CSRF token of the forms of the page at `path`."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def reply(ctx: Context, number: str, phone: str, text: str) -> None:
    """A reply from `phone` to the reply number `number`, stored as a connector would."""
    ctx.store.write_sync(
        lambda conn: apply_reply(conn, phone, number, text, datetime.now(UTC), timedelta(hours=72))
    )
