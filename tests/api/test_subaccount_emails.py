"""createSubAccount's SENDEMAILTOCUSTOMER / SENDEMAILTOMASTERACCOUNT: the summaries are queued in
the account's transaction, the customer's with a set-password link and no secret, and they land."""

from __future__ import annotations

import asyncio
import mailbox
import re
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from hirondelle.context import Context
from hirondelle.notify.mailer import maildir_path
from hirondelle.services.email import send_due_emails
from hirondelle.services.passwords import token_digest
from hirondelle.store.schema import email_campaigns, emails, password_tokens, pending_emails
from tests.api.test_subaccounts import SUB, call, feed, row
from tests.conftest import count_rows
from tests.helpers import Creds, make_account

BASE_URL = "https://sms.example.com"
LINK = re.compile(
    re.escape(BASE_URL) + r"/account/set-password\?token=([A-Za-z0-9_-]{43})(?![\w-])"
)


@pytest.fixture
def master(ctx: Context) -> Creds:
    ctx.settings.public_url = BASE_URL + "/"
    fields = {"first_name": "Marie", "last_name": "Curie", "email": "boss@example.com"}
    return make_account(ctx, "master", credits=1000, **fields)


def queued(ctx: Context) -> list[dict[str, Any]]:
    """The notifications waiting for the email sender, oldest first."""
    query = (
        sa.select(email_campaigns, emails.c.recipient, emails.c.state.label("email_state"))
        .join(emails, emails.c.campaign_id == email_campaigns.c.id)
        .order_by(emails.c.id)
    )
    return ctx.store.read_sync(lambda conn: [dict(r) for r in conn.execute(query).mappings()])


def table(ctx: Context, which: sa.Table) -> list[dict[str, Any]]:
    query = sa.select(which).order_by(which.c.id)
    return ctx.store.read_sync(lambda conn: [dict(r) for r in conn.execute(query).mappings()])


def create(client: TestClient, master: Creds, **flags: str) -> None:
    answer = call(client, "createSubAccount", master, accountData=feed(**SUB, **flags))
    assert answer == {"status": 1, "text": "Sub-account successfully created"}


def test_the_customer_gets_a_set_password_link_and_no_secret(
    client: TestClient, ctx: Context, master: Creds
) -> None:
    create(client, master, SENDEMAILTOCUSTOMER="1")
    (mail,) = queued(ctx)
    assert (mail["recipient"], mail["kind"], mail["credits"]) == (
        "email@domain.com",
        "notification",
        0,
    )
    assert mail["subject"] == "Your SMS account newlogin: choose your password"
    text = mail["text"]
    for expected in ("newlogin", "Society", "Marie Curie", f"{BASE_URL}/http/9.0/", "72 hours"):
        assert expected in text
    match = LINK.search(text)
    assert match is not None, text
    sub = row(ctx, "newlogin")
    assert SUB["PASSWORD"] not in text and sub["api_key_digest"] not in text
    assert re.search(r"\b[0-9a-f]{32}\b", text) is None  # no API key (token_hex(16)) in it
    (token_row,) = table(ctx, password_tokens)
    assert token_row["account_id"] == sub["id"] and token_row["used_at"] is None
    assert token_row["token_digest"] == token_digest(ctx.secret, match.group(1))
    assert token_row["token_digest"] not in text
    hours = (token_row["expires_at"] - token_row["created_at"]).total_seconds() / 3600
    assert hours == 72
    stored = str(table(ctx, password_tokens)) + str(table(ctx, pending_emails))
    assert match.group(1) not in stored  # only the digest is kept
    (record,) = table(ctx, pending_emails)
    assert (record["kind"], record["state"]) == ("subaccount_to_customer", "sent")
    assert record["sent_at"] is not None


def test_the_master_gets_a_summary_without_any_secret(
    client: TestClient, ctx: Context, master: Creds
) -> None:
    create(client, master, SENDEMAILTOMASTERACCOUNT="1", ACTIVE="0")
    (mail,) = queued(ctx)
    assert (mail["recipient"], mail["subject"]) == ("boss@example.com", "New sub-account newlogin")
    lines = [line.split() for line in mail["text"].splitlines()]
    for expected in (
        ["Login:", "newlogin"],
        ["Name:", "Thomas", "Dupont"],
        ["Credits:", "0"],
        ["Active:", "no"],
        ["Postpaid:", "no"],
    ):
        assert expected in lines
    assert "token" not in mail["text"] and SUB["PASSWORD"] not in mail["text"]
    assert count_rows(ctx, password_tokens) == 0
    assert [(r["kind"], r["state"]) for r in table(ctx, pending_emails)] == [
        ("subaccount_to_master", "sent")
    ]


def test_both_summaries_and_none(client: TestClient, ctx: Context, master: Creds) -> None:
    create(client, master)
    assert queued(ctx) == [] and count_rows(ctx, password_tokens) == 0
    fields = {**SUB, "LOGIN": "second", "SENDEMAILTOCUSTOMER": "1", "SENDEMAILTOMASTERACCOUNT": "1"}
    assert call(client, "createSubAccount", master, accountData=feed(**fields))["status"] == 1
    assert [m["recipient"] for m in queued(ctx)] == ["email@domain.com", "boss@example.com"]


def test_a_master_without_a_valid_address_gets_no_email(client: TestClient, ctx: Context) -> None:
    boss = make_account(ctx, "master", credits=0, email="not an address")
    create(client, boss, SENDEMAILTOMASTERACCOUNT="1")
    assert queued(ctx) == []
    assert [(r["kind"], r["state"]) for r in table(ctx, pending_emails)] == [
        ("subaccount_to_master", "failed")
    ]


def test_a_refused_creation_queues_nothing(client: TestClient, ctx: Context, master: Creds) -> None:
    flags = {"SENDEMAILTOCUSTOMER": "1", "SENDEMAILTOMASTERACCOUNT": "1", "POSTPAID": "1"}
    answer = call(client, "createSubAccount", master, accountData=feed(**SUB, **flags))
    assert answer["status"] == 0
    for which in (email_campaigns, password_tokens, pending_emails):
        assert count_rows(ctx, which) == 0


def test_the_email_lands_and_its_link_opens_the_form(
    client: TestClient, ctx: Context, master: Creds
) -> None:
    create(client, master, SENDEMAILTOCUSTOMER="1", SENDEMAILTOMASTERACCOUNT="1")
    assert asyncio.run(send_due_emails(ctx)) == 2
    box = mailbox.Maildir(maildir_path(ctx.settings), create=False)
    by_recipient = {message["To"]: message for message in box}
    assert set(by_recipient) == {"email@domain.com", "boss@example.com"}
    assert {m["From"] for m in by_recipient.values()} == {ctx.settings.mail_from}
    body = by_recipient["email@domain.com"].get_payload(decode=True).decode()  # type: ignore[union-attr]
    match = LINK.search(body)
    assert match is not None, body
    page = client.get(match.group(0).removeprefix(BASE_URL))
    assert page.status_code == 200
    assert "newlogin" in page.text and 'name="password"' in page.text
    assert {e["email_state"] for e in queued(ctx)} == {"sent"}


def test_the_link_lifetime_is_a_setting(client: TestClient, ctx: Context, master: Creds) -> None:
    ctx.settings.set_password_token_hours = 0.5
    create(client, master, SENDEMAILTOCUSTOMER="1")
    (mail,) = queued(ctx)
    assert "for 0.5 hours" in " ".join(mail["text"].split())
    (token_row,) = table(ctx, password_tokens)
    assert (token_row["expires_at"] - token_row["created_at"]).total_seconds() == 1800
