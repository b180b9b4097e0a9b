"""Helpers of the Sending tests: feeds, API calls, and what the store holds afterwards."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

import orjson
import sqlalchemy as sa
from starlette.testclient import TestClient

from hirondelle.context import Context
from hirondelle.store import ledger as ledger_rows
from hirondelle.store.accounts import find_by_login
from hirondelle.store.schema import (
    blacklist,
    campaigns,
    idempotency_keys,
    ledger,
    messages,
)
from tests.conftest import count_rows
from tests.helpers import Creds, json_answer

#: Tables a send writes to; a refused send must leave each of them as it was.
WRITTEN_TABLES = (campaigns, messages, ledger, idempotency_keys)

Recipient = str | Mapping[str, str]

#: Annex 5 status texts, as the answers carry them.
TEXTS = {
    100: "The message has been sent",
    102: "Connection Problem - No account matches the specified clientcode and apiKey",
    105: "Empty XML Feeds",
    109: "Invalid or incomplete XML after the <MESSAGE>",
    110: "Undefined message (empty) in the XML stream",
    111: "The message exceeds the number of characters",
    114: (
        "No valid phone number in the stream. Please refer to the online documentation "
        "to know the valid formats."
    ),
    115: "Invalid XML feed or badly formatted dates between the <DATE> and </DATE>",
}


def mobiles(count: int, start: int = 0) -> list[str]:
    """`count` distinct valid French mobiles in national form (06 12 xx xx xx)."""
    return [f"0612{n:06d}" for n in range(start, start + count)]


def international(national: str) -> str:
    """The answer form of a French national mobile: 0612000001 -> 33612000001."""
    return "33" + national[1:]


def _sms_item(recipient: Recipient) -> dict[str, str]:
    if isinstance(recipient, str):
        return {"MOBILEPHONE": recipient}
    return dict(recipient)


def json_feed(message: str | None, recipients: Sequence[Recipient], **tags: Any) -> str:
    """A JSON smsData feed: `{"DATA": {"MESSAGE": ..., <TAGS>, "SMS": [...]}}`."""
    data: dict[str, Any] = {} if message is None else {"MESSAGE": message}
    data.update(tags)
    data["SMS"] = [_sms_item(r) for r in recipients]
    return orjson.dumps({"DATA": data}).decode()


def xml_feed(message: str | None, recipients: Sequence[Recipient], **tags: Any) -> str:
    """An XML smsData feed with one `<SMS>` element per recipient."""
    parts = ["<DATA>"]
    if message is not None:
        parts.append(f"<MESSAGE>{escape(message)}</MESSAGE>")
    parts += [f"<{tag}>{escape(str(value))}</{tag}>" for tag, value in tags.items()]
    for recipient in recipients:
        parts.append("<SMS>")
        parts += [f"<{k}>{escape(v)}</{k}>" for k, v in _sms_item(recipient).items()]
        parts.append("</SMS>")
    parts.append("</DATA>")
    return "".join(parts)


def call(client: TestClient, method: str, creds: Creds, **params: Any) -> Any:
    """POST an API 9.0 method (urlencoded) and decode its JSON answer."""
    return json_answer(client.post(f"/http/9.0/{method}", data=creds.params(**params)))


def send_sms(client: TestClient, creds: Creds, feed: str, **params: Any) -> Any:
    return call(client, "sendSms", creds, smsData=feed, **params)


def keyed_send(client: TestClient, creds: Creds, key: str, feed: str) -> Any:
    """sendSms with an Idempotency-Key header."""
    response = client.post(
        "/http/9.0/sendSms", data=creds.params(smsData=feed), headers={"Idempotency-Key": key}
    )
    return json_answer(response)


def account_id(ctx: Context, login: str) -> int:
    return int(ctx.store.read_sync(lambda conn: find_by_login(conn, login)["id"]))


def balance(ctx: Context, login: str) -> int:
    ident = account_id(ctx, login)
    return ctx.store.read_sync(lambda conn: ledger_rows.balance_of(conn, ident))


def snapshot(ctx: Context, login: str) -> tuple[int, ...]:
    """Row counts of the tables a send writes, and the account's balance."""
    return (*(count_rows(ctx, table) for table in WRITTEN_TABLES), balance(ctx, login))


def campaign_row(ctx: Context, public_id: str) -> Mapping[str, Any]:
    query = sa.select(campaigns).where(campaigns.c.public_id == public_id)
    return ctx.store.read_sync(lambda conn: conn.execute(query).mappings().one())


def message_rows(ctx: Context, public_id: str) -> list[Mapping[str, Any]]:
    """The messages of a campaign, in insertion order."""
    query = (
        sa.select(messages)
        .join(campaigns, campaigns.c.id == messages.c.campaign_id)
        .where(campaigns.c.public_id == public_id)
        .order_by(messages.c.id)
    )
    return ctx.store.read_sync(lambda conn: list(conn.execute(query).mappings()))


def ledger_rows_of(ctx: Context, login: str) -> list[tuple[str, int, str]]:
    """(kind, delta, reference) of the account's ledger rows, oldest first."""
    ident = account_id(ctx, login)
    query = (
        sa.select(ledger.c.kind, ledger.c.delta, ledger.c.reference)
        .where(ledger.c.account_id == ident)
        .order_by(ledger.c.id)
    )
    return ctx.store.read_sync(lambda conn: [tuple(row) for row in conn.execute(query)])


def add_to_blacklist(ctx: Context, login: str, phone: str, when: datetime) -> None:
    values = {
        "account_id": account_id(ctx, login),
        "phone": phone,
        "comment": "stop",
        "created_at": when,
    }
    ctx.store.write_sync(lambda conn: conn.execute(sa.insert(blacklist).values(values)))


def update_rows(ctx: Context, table: sa.Table, where: Any, **values: Any) -> None:
    ctx.store.write_sync(lambda conn: conn.execute(sa.update(table).where(where).values(values)))


def aware(value: datetime) -> datetime:
    """SQLite gives naive datetimes back; the store writes UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
