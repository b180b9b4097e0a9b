"""Webhook signing secrets are stored sealed under secret_key, never in clear, and still sign."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from hirondelle.context import Context
from hirondelle.domain.sealed import Unsealable, unseal
from hirondelle.notify.webhooks import signing_secret
from hirondelle.services import webhooks
from hirondelle.store import webhooks as outbox
from hirondelle.store.accounts import find_by_login
from tests.conftest import TEST_SECRET
from tests.helpers import make_account

OWN = "my-own-webhook-secret-0123"


def stored(ctx: Context) -> tuple[int, str]:
    row = ctx.store.read_sync(lambda conn: find_by_login(conn, "alice"))
    assert row is not None
    return int(row["id"]), str(row["webhook_secret"])


def test_a_given_secret_is_stored_sealed(ctx: Context) -> None:
    make_account(ctx)
    account_id, _ = stored(ctx)
    found = asyncio.run(webhooks.configure(ctx, account_id, secret=OWN))
    assert found.has_secret
    _, column = stored(ctx)
    assert OWN not in column
    assert unseal(TEST_SECRET, column, f"webhook-secret:{account_id}") == OWN
    with pytest.raises(Unsealable):
        unseal(b"another secret_key", column, f"webhook-secret:{account_id}")


def test_a_generated_secret_is_shown_once_and_stored_sealed(ctx: Context) -> None:
    make_account(ctx)
    account_id, _ = stored(ctx)
    found = asyncio.run(webhooks.configure(ctx, account_id, secret="generate"))
    assert found.new_secret
    _, column = stored(ctx)
    assert found.new_secret not in column
    assert unseal(TEST_SECRET, column, f"webhook-secret:{account_id}") == found.new_secret


def test_the_sender_signs_with_the_secret_in_clear(ctx: Context) -> None:
    make_account(ctx)
    account_id, _ = stored(ctx)
    asyncio.run(webhooks.configure(ctx, account_id, secret=OWN))
    now = datetime.now(UTC)

    def queue_and_claim(conn: object) -> list[outbox.OutboxEvent]:
        outbox.queue_event(conn, account_id, "receipt", "k", "http://h.example/", {}, now)  # type: ignore[arg-type]
        return outbox.claim_due_events(conn, now, now, {}, 4, 10)  # type: ignore[arg-type]

    (event,) = ctx.store.write_sync(queue_and_claim)
    assert OWN not in event.secret
    assert signing_secret(ctx, event) == OWN
