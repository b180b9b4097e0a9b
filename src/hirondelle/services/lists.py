"""Contact lists (manual §21–§26): create, populate, prune, delete and read them, and hand a
list's recipients to sendSms.

A list belongs to one account and has a name unique for that account, a LOCKED flag (read-only in
the customer area; the API still edits it, since the API is how such a list is kept in sync) and
an ordered set of fields, each with FILTER and MAILING flags. Field names are matched
case-insensitively (feed tags arrive upper-cased) and given back as declared.

Contacts are mobile numbers normalised by `parse_mobile`, unique in their list. Counting, as
§22 says: *ignored* = no valid mobile number, or a field the list does not have; *duplicated* =
already in the list, or earlier in the same feed. The numbers are parsed before the transaction;
the transaction locks the list row, checks the numbers in bulk and inserts in one executemany.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.engine import Connection, RowMapping

from hirondelle.context import Context
from hirondelle.domain.numbers import InvalidNumber, Mobile, parse_mobile
from hirondelle.store import lists as list_rows

__all__ = [
    "ContactCounts",
    "ContactList",
    "FieldSpec",
    "ListError",
    "UnknownList",
    "create_list",
    "delete_contacts",
    "delete_list",
    "get_contacts",
    "get_lists",
    "list_recipients",
    "populate_list",
]

PHONE_TAG = "MOBILEPHONE"
MAX_NAME = 255
MAX_FIELDS = 100
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")


class ListError(ValueError):
    """A list request that cannot be honoured; the message says why."""


class UnknownList(ListError):
    def __init__(self, name: str) -> None:
        super().__init__(f"Unknown list: {name}")
        self.name = name


@dataclass(frozen=True)
class FieldSpec:
    name: str
    filter: bool = False
    mailing: bool = False


@dataclass(frozen=True)
class ContactList:
    name: str
    locked: bool
    created_at: datetime
    contacts: int


@dataclass(frozen=True)
class ContactCounts:
    """populateList's and deleteContacts's counts."""

    success: int
    ignored: int
    duplicated: int


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise ListError(f"The list name must have 1 to {MAX_NAME} characters")
    return name


def _check_fields(fields: Sequence[FieldSpec]) -> list[dict[str, Any]]:
    if len(fields) > MAX_FIELDS:
        raise ListError(f"A list has at most {MAX_FIELDS} fields")
    seen: set[str] = set()
    rows = []
    for field in fields:
        if _FIELD_NAME.fullmatch(field.name) is None:
            raise ListError(
                f"Invalid field name {field.name!r}: up to 64 letters, digits, _ or -, "
                "starting with a letter or _"
            )
        key = field.name.upper()
        if key == PHONE_TAG:
            raise ListError(f"{field.name} is the contact's number, not a field to declare")
        if key in seen:
            raise ListError(f"The field {field.name} is declared twice")
        seen.add(key)
        rows.append({"name": field.name, "filter": field.filter, "mailing": field.mailing})
    return rows


def _find(conn: Connection, account_id: int, name: str, *, lock: bool = False) -> RowMapping:
    row = list_rows.find_list(conn, account_id, name, lock=lock)
    if row is None:
        raise UnknownList(name)
    return row


async def create_list(
    ctx: Context, account_id: int, name: str, *, locked: bool, fields: Sequence[FieldSpec]
) -> None:
    """Create the list `name` with its fields; ListError if invalid or the name is taken."""
    name = _check_name(name)
    rows = _check_fields(fields)

    def create(conn: Connection) -> None:
        try:
            list_rows.insert_list(conn, account_id, name, locked, rows)
        except list_rows.ListNameTaken:
            raise ListError(f"A list named {name} already exists") from None

    await ctx.store.write(create)


def _classify(
    items: Iterable[Any], fields: Mapping[str, str]
) -> tuple[dict[str, tuple[Mobile, str]], int, int]:
    """Valid contacts by number (first one wins), and the ignored and duplicated counts.

    `fields` maps upper-case field names to their declared spelling.
    """
    valid: dict[str, tuple[Mobile, str]] = {}
    ignored = duplicated = 0
    for item in items:
        contact = {PHONE_TAG: item} if isinstance(item, str) else item
        if not isinstance(contact, Mapping):
            ignored += 1
            continue
        values: dict[str, str] = {}
        raw_phone: Any = None
        for tag, value in contact.items():
            key = str(tag).upper()
            if key == PHONE_TAG:
                raw_phone = value
            elif key in fields and isinstance(value, str):
                values[fields[key]] = value
            else:
                values = {}
                raw_phone = None
                break
        if not isinstance(raw_phone, str):
            ignored += 1
            continue
        try:
            mobile = parse_mobile(raw_phone)
        except InvalidNumber:
            ignored += 1
            continue
        if mobile.digits in valid:
            duplicated += 1
            continue
        valid[mobile.digits] = (mobile, orjson.dumps(values).decode())
    return valid, ignored, duplicated


async def populate_list(
    ctx: Context, account_id: int, name: str, items: Iterable[Any]
) -> ContactCounts:
    """Add contacts (mappings of MOBILEPHONE and field values, tags in any case) to a list.

    One transaction, no query per contact; see the module docstring for the counts. Raises
    UnknownList.
    """
    head = await ctx.store.read(lambda conn: _find(conn, account_id, name))
    fields_rows = await ctx.store.read(lambda conn: list_rows.fields_of(conn, head["id"]))
    fields = {row["name"].upper(): row["name"] for row in fields_rows}
    valid, ignored, duplicated = _classify(items, fields)

    def populate(conn: Connection) -> ContactCounts:
        row = _find(conn, account_id, name, lock=True)
        if row["id"] != head["id"]:  # deleted and created again meanwhile
            raise UnknownList(name)
        existing = list_rows.existing_phones(conn, row["id"], valid)
        rows = [
            {"phone": digits, "country": mobile.country, "fields": values}
            for digits, (mobile, values) in valid.items()
            if digits not in existing
        ]
        list_rows.insert_contacts(conn, row["id"], rows)
        return ContactCounts(len(rows), ignored, duplicated + len(existing))

    return await ctx.store.write(populate)


async def delete_contacts(
    ctx: Context, account_id: int, name: str, items: Iterable[Any]
) -> ContactCounts:
    """Remove contacts (mappings with MOBILEPHONE, or bare numbers) from a list.

    success = removed; ignored = invalid number or not in the list; duplicated = given twice.
    """
    numbers: set[str] = set()
    ignored = duplicated = 0
    for item in items:
        raw = item.get(PHONE_TAG) if isinstance(item, Mapping) else item
        try:
            digits = parse_mobile(raw).digits if isinstance(raw, str) else None
        except InvalidNumber:
            digits = None
        if digits is None:
            ignored += 1
        elif digits in numbers:
            duplicated += 1
        else:
            numbers.add(digits)

    def delete(conn: Connection) -> ContactCounts:
        row = _find(conn, account_id, name, lock=True)
        deleted = list_rows.delete_phones(conn, row["id"], numbers)
        return ContactCounts(deleted, ignored + len(numbers) - deleted, duplicated)

    return await ctx.store.write(delete)


async def delete_list(ctx: Context, account_id: int, name: str) -> int:
    """Delete a list with its contacts, for good; return how many contacts it held."""
    return await ctx.store.write(
        lambda conn: list_rows.delete_list(conn, _find(conn, account_id, name, lock=True)["id"])
    )


async def get_lists(ctx: Context, account_id: int) -> list[ContactList]:
    """The account's lists, oldest first, with their numbers of contacts."""
    rows = await ctx.store.read(lambda conn: list_rows.lists_of(conn, account_id))
    return [
        ContactList(row["name"], bool(row["locked"]), row["created_at"], int(row["contacts"]))
        for row in rows
    ]


async def get_contacts(
    ctx: Context, account_id: int, name: str
) -> tuple[list[FieldSpec], list[tuple[str, dict[str, str]]]]:
    """The list's fields, and its contacts as (number, values of every field, "" if unset)."""

    def read(conn: Connection) -> tuple[list[RowMapping], list[tuple[str, str]]]:
        row = _find(conn, account_id, name)
        return list_rows.fields_of(conn, row["id"]), list_rows.contacts_of(conn, row["id"])

    field_rows, rows = await ctx.store.read(read)
    fields = [FieldSpec(r["name"], bool(r["filter"]), bool(r["mailing"])) for r in field_rows]
    blank = {field.name: "" for field in fields}
    return fields, [(phone, {**blank, **orjson.loads(values)}) for phone, values in rows]


async def list_recipients(
    ctx: Context, account_id: int, name: str
) -> list[tuple[str, dict[str, str]]]:
    """For sendSms's LISTNAME: every contact of the account's list `name` as (international
    digits without '+', {field name as declared: value, "" when unset}), in insertion order.

    The values serve as `#FieldName#` merge fields. Raises UnknownList. The blacklist is the
    sender's to apply.
    """
    return (await get_contacts(ctx, account_id, name))[1]
