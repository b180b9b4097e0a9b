"""Queries on contact lists, their fields and their contacts.

A contact's field values live in one JSON text column (`contacts.fields`, field name -> text)
rather than in a key/value table, because:

* a contact is always written and read whole (populateList, getContacts, sending to a list), so
  one row per contact is one row to insert and one to read; a key/value table multiplies both by
  the number of fields (100,000 contacts × 5 fields = half a million rows) for no query we make;
* fields belong to one list and never change after createList, so there is no schema to migrate;
* JSON text is portable across SQLite and PostgreSQL; a filter on a field (FILTER=1) can later use
  either engine's JSON functions, or an expression index, without changing the rows.

Bulk work stays bulk: numbers are checked against the list and deleted in chunks of
`CHUNK` (well under SQLite's 32,766 bound parameters), contacts are inserted with one
executemany, and nothing runs one query per contact.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from hirondelle.store.engine import chunks
from hirondelle.store.schema import contact_lists, contacts, list_fields

CHUNK = 5000


class ListNameTaken(Exception):
    pass


def insert_list(
    conn: Connection, account_id: int, name: str, locked: bool, fields: Sequence[dict[str, Any]]
) -> int:
    """Insert a list and its fields (dicts of name, filter, mailing); ListNameTaken if it exists."""
    if find_list(conn, account_id, name) is not None:
        raise ListNameTaken(name)
    try:
        list_id = conn.execute(
            sa.insert(contact_lists)
            .values(account_id=account_id, name=name, locked=locked, created_at=datetime.now(UTC))
            .returning(contact_lists.c.id)
        ).scalar_one()
    except sa.exc.IntegrityError as exc:
        raise ListNameTaken(name) from exc
    if fields:
        rows = [{**field, "list_id": list_id, "position": i} for i, field in enumerate(fields)]
        conn.execute(sa.insert(list_fields), rows)
    return int(list_id)


def find_list(
    conn: Connection, account_id: int, name: str, *, lock: bool = False
) -> RowMapping | None:
    """The list `name` of the account; `lock` serialises writers of that list (PostgreSQL)."""
    query = sa.select(contact_lists).where(
        contact_lists.c.account_id == account_id, contact_lists.c.name == name
    )
    if lock:
        query = query.with_for_update()
    return conn.execute(query).mappings().first()


def fields_of(conn: Connection, list_id: int) -> list[RowMapping]:
    query = sa.select(list_fields).where(list_fields.c.list_id == list_id)
    return list(conn.execute(query.order_by(list_fields.c.position)).mappings())


def existing_phones(conn: Connection, list_id: int, phones: Collection[str]) -> set[str]:
    """Which of `phones` the list holds already."""
    found: set[str] = set()
    for chunk in chunks(sorted(phones), CHUNK):
        query = sa.select(contacts.c.phone).where(
            contacts.c.list_id == list_id, contacts.c.phone.in_(chunk)
        )
        found.update(conn.execute(query).scalars())
    return found


def insert_contacts(conn: Connection, list_id: int, rows: Sequence[dict[str, str]]) -> None:
    """Insert contacts (dicts of phone, country, fields as JSON text) in one executemany."""
    if rows:
        now = datetime.now(UTC)
        conn.execute(
            sa.insert(contacts), [{**row, "list_id": list_id, "created_at": now} for row in rows]
        )


def delete_phones(conn: Connection, list_id: int, phones: Collection[str]) -> int:
    """Delete the contacts with these numbers; return how many there were."""
    deleted = 0
    for chunk in chunks(sorted(phones), CHUNK):
        result = conn.execute(
            sa.delete(contacts).where(contacts.c.list_id == list_id, contacts.c.phone.in_(chunk))
        )
        deleted += result.rowcount
    return deleted


def delete_list(conn: Connection, list_id: int) -> int:
    """Delete a list, its fields and its contacts; return how many contacts it had."""
    deleted = conn.execute(sa.delete(contacts).where(contacts.c.list_id == list_id)).rowcount
    conn.execute(sa.delete(list_fields).where(list_fields.c.list_id == list_id))
    conn.execute(sa.delete(contact_lists).where(contact_lists.c.id == list_id))
    return int(deleted)


def lists_of(conn: Connection, account_id: int) -> list[RowMapping]:
    """The account's lists, oldest first, each with its number of contacts (`contacts`)."""
    count = (
        sa.select(sa.func.count())
        .where(contacts.c.list_id == contact_lists.c.id)
        .scalar_subquery()
        .label("contacts")
    )
    query = (
        sa.select(contact_lists, count)
        .where(contact_lists.c.account_id == account_id)
        .order_by(contact_lists.c.id)
    )
    return list(conn.execute(query).mappings())


def contacts_of(conn: Connection, list_id: int) -> list[tuple[str, str]]:
    """Every contact of the list as (phone, fields JSON), in insertion order."""
    query = (
        sa.select(contacts.c.phone, contacts.c.fields)
        .where(contacts.c.list_id == list_id)
        .order_by(contacts.c.id)
    )
    return [(phone, fields) for phone, fields in conn.execute(query)]


# -- the customer area's pages -------------------------------------------------------------------


def contacts_page(
    conn: Connection, list_id: int, *, after: int | None, limit: int, phone: str | None = None
) -> list[RowMapping]:
    """Up to `limit` contacts of the list after the contact `after`, in insertion order (the
    index (list_id, id)); only the numbers starting with `phone` when given."""
    query = (
        sa.select(contacts.c.id, contacts.c.phone, contacts.c.fields)
        .where(
            contacts.c.list_id == list_id,
            contacts.c.id > after if after is not None else sa.true(),
            contacts.c.phone.startswith(phone, autoescape=True) if phone else sa.true(),
        )
        .order_by(contacts.c.id)
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def find_contact(conn: Connection, list_id: int, contact_id: int) -> RowMapping | None:
    query = sa.select(contacts.c.id, contacts.c.phone, contacts.c.fields).where(
        contacts.c.list_id == list_id, contacts.c.id == contact_id
    )
    return conn.execute(query).mappings().first()


def update_contact(conn: Connection, contact_id: int, values: dict[str, str]) -> None:
    """Change a contact's number (phone, country) and/or its fields (JSON text)."""
    conn.execute(sa.update(contacts).where(contacts.c.id == contact_id).values(values))


def delete_contact(conn: Connection, list_id: int, contact_id: int) -> int:
    result = conn.execute(
        sa.delete(contacts).where(contacts.c.list_id == list_id, contacts.c.id == contact_id)
    )
    return int(result.rowcount or 0)
