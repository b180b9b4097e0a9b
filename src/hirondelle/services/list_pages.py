"""Contact lists as the customer area handles them: a list's contacts a page at a time, a file
imported into a list, one contact edited or deleted.

The rules are the API's (`services/lists.py`): numbers normalised by `parse_mobile` and unique in
their list, values only for the list's own fields, the same counts (added / ignored /
duplicated). One more, from the list's LOCKED flag: a locked list is kept in sync through the
API and is read-only here — no import, no edit, no deletion from the customer area.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy.engine import Connection, RowMapping

from hirondelle.context import Context
from hirondelle.domain.numbers import InvalidNumber, parse_mobile
from hirondelle.services import lists
from hirondelle.services.lists import ContactCounts, FieldSpec, ListError, UnknownList
from hirondelle.services.paging import PAGE_SIZE, Page, number_search, page_of
from hirondelle.store import lists as list_rows

#: Column headings taken as the contact's number in an imported file (compared in lower case).
PHONE_HEADINGS = frozenset(
    (
        *("mobilephone", "mobile", "phone", "number", "numero", "numéro", "telephone"),
        *("téléphone", "portable", "tel", "tél", "msisdn", "phonenumber", "phone number"),
    )
)


class ListLocked(ListError):
    def __init__(self, name: str) -> None:
        super().__init__(f"The list {name} is locked: it is kept through the API, read-only here")


@dataclass(frozen=True, slots=True)
class ListHead:
    name: str
    locked: bool
    fields: list[FieldSpec]


@dataclass(frozen=True, slots=True)
class ContactLine:
    id: int
    phone: str
    values: dict[str, str]  # every field of the list, "" when unset


@dataclass(frozen=True, slots=True)
class ImportResult:
    counts: ContactCounts
    ignored_columns: list[str]  # headings that are no field of the list


def _head(conn: Connection, account_id: int, name: str) -> tuple[RowMapping, ListHead]:
    row = list_rows.find_list(conn, account_id, name)
    if row is None:
        raise UnknownList(name)
    fields = [
        FieldSpec(f["name"], bool(f["filter"]), bool(f["mailing"]))
        for f in list_rows.fields_of(conn, row["id"])
    ]
    return row, ListHead(row["name"], bool(row["locked"]), fields)


def _editable(conn: Connection, account_id: int, name: str) -> RowMapping:
    row = list_rows.find_list(conn, account_id, name, lock=True)
    if row is None:
        raise UnknownList(name)
    if row["locked"]:
        raise ListLocked(name)
    return row


async def list_head(ctx: Context, account_id: int, name: str) -> ListHead:
    """The account's list `name` (UnknownList if it has none of that name)."""
    return await ctx.store.read(lambda conn: _head(conn, account_id, name)[1])


async def create_list(ctx: Context, account_id: int, name: str, field_names: str) -> None:
    """Create an unlocked list; `field_names` separated by commas or semicolons."""
    names = [part.strip() for part in field_names.replace(";", ",").split(",") if part.strip()]
    await lists.create_list(
        ctx, account_id, name, locked=False, fields=[FieldSpec(n) for n in names]
    )


async def delete_list(ctx: Context, account_id: int, name: str) -> int:
    """Delete an unlocked list and its contacts; return how many contacts it held."""
    return await ctx.store.write(
        lambda conn: list_rows.delete_list(conn, _editable(conn, account_id, name)["id"])
    )


async def contacts_page(
    ctx: Context, account_id: int, name: str, after: int | None, search: str | None = None
) -> tuple[ListHead, Page[ContactLine]]:
    """The list, and its contacts after the contact `after` in the order they were added (only
    the numbers starting with the digits searched when `search` is given)."""
    wanted = number_search(search)

    def read(conn: Connection) -> tuple[ListHead, list[RowMapping]]:
        row, head = _head(conn, account_id, name)
        if search and wanted is None:
            return head, []
        found = list_rows.contacts_page(
            conn,
            row["id"],
            after=after,
            limit=PAGE_SIZE + 1,
            phone=wanted.digits if wanted else None,
        )
        return head, found

    head, found = await ctx.store.read(read)
    blank = {field.name: "" for field in head.fields}
    page = page_of(
        found,
        PAGE_SIZE,
        lambda row: int(row["id"]),
        lambda row: ContactLine(row["id"], row["phone"], {**blank, **orjson.loads(row["fields"])}),
    )
    return head, page


def contact_items(
    rows: Sequence[Sequence[str]], fields: Sequence[FieldSpec]
) -> tuple[list[dict[str, str]], list[str]]:
    """An imported file's rows as populateList's items, and the headings left out.

    With a heading row (a cell naming the number, `PHONE_HEADINGS`, or the list's fields), each
    column goes to the field of its heading; without one, the first column is the number and
    the next ones the list's fields in their order."""
    by_key = {field.name.upper(): field.name for field in fields}
    first = [cell.strip() for cell in rows[0]] if rows else []
    named = [
        lists.PHONE_TAG
        if cell.lower() in PHONE_HEADINGS or cell.upper() == lists.PHONE_TAG
        else by_key.get(cell.upper())
        for cell in first
    ]
    ignored: list[str] = []
    if lists.PHONE_TAG in named:
        columns, body = named, rows[1:]
        ignored = [cell for cell, name in zip(first, named, strict=True) if name is None and cell]
    else:
        columns = [lists.PHONE_TAG, *(field.name for field in fields)]
        body = rows
    items = []
    for row in body:
        item = {name: cell for name, cell in zip(columns, row, strict=False) if name is not None}
        items.append(item if item.get(lists.PHONE_TAG) else {lists.PHONE_TAG: ""})
    return items, ignored


async def import_contacts(
    ctx: Context, account_id: int, name: str, rows: Sequence[Sequence[str]]
) -> ImportResult:
    """Add an imported file's contacts to an unlocked list, as populateList does."""
    head = await list_head(ctx, account_id, name)
    if head.locked:
        raise ListLocked(name)
    items, ignored = contact_items(rows, head.fields)
    counts = await lists.populate_list(ctx, account_id, name, items)
    return ImportResult(counts, ignored)


async def update_contact(
    ctx: Context, account_id: int, name: str, contact_id: int, phone: str, values: dict[str, str]
) -> None:
    """Change a contact's number and field values (fields the list lacks are refused)."""
    try:
        mobile = parse_mobile(phone)
    except InvalidNumber:
        raise ListError(f"Not a valid mobile number: {phone}") from None

    def update(conn: Connection) -> None:
        row = _editable(conn, account_id, name)  # locked: the list's writers queue up
        contact = list_rows.find_contact(conn, row["id"], contact_id)
        if contact is None:
            raise UnknownContact(contact_id)
        known = {field["name"] for field in list_rows.fields_of(conn, row["id"])}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ListError(f"The list has no field {', '.join(unknown)}")
        if mobile.digits != contact["phone"] and list_rows.existing_phones(
            conn, row["id"], [mobile.digits]
        ):
            raise ListError(f"{mobile.digits} is already in the list")
        kept = {key: value for key, value in values.items() if value}
        list_rows.update_contact(
            conn,
            contact_id,
            {
                "phone": mobile.digits,
                "country": mobile.country,
                "fields": orjson.dumps(kept).decode(),
            },
        )

    await ctx.store.write(update)


async def delete_contact(ctx: Context, account_id: int, name: str, contact_id: int) -> None:
    def delete(conn: Connection) -> None:
        row = _editable(conn, account_id, name)
        if list_rows.delete_contact(conn, row["id"], contact_id) == 0:
            raise UnknownContact(contact_id)

    await ctx.store.write(delete)


class UnknownContact(ListError):
    def __init__(self, contact_id: int) -> None:
        super().__init__(f"Unknown contact: {contact_id}")
