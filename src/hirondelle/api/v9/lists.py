"""The contact-list family of API 9.0 (manual §21–§26): createList, populateList, deleteContacts,
deleteList, getLists and getContacts.

The four methods that change a list answer `{"status": 1|0, "statusText": ...}` (annexes 15 and
18; status 0 carries the reason), in the format of their feed. Their sub-account may be named in
the feed (`SUBACCOUNT`, as §21–§23 say) or by the `subaccount` parameter; a wrong one is a
status 0. getLists and getContacts have no status table: their errors are `{"error": ...}`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from hirondelle.api.v9 import feeds
from hirondelle.api.v9.methods import Call, Fields, MethodError, error, method, resolve_subaccount
from hirondelle.api.v9.subaccounts import STATUS_0_ERRORS, status
from hirondelle.context import Context
from hirondelle.domain.dates import format_local
from hirondelle.services import lists
from hirondelle.services.accounts import Account
from hirondelle.services.lists import ContactCounts, FieldSpec, ListError

_FLAGS = {"0": False, "1": True}
ContactsChange = Callable[[Context, int, str, list[Any]], Awaitable[ContactCounts]]


def failed(text: str) -> MethodError:
    return status(0, text)


async def _owner(call: Call, login: str | None) -> Account:
    """The caller, or its sub-account `login` (UnknownSubaccount, a status 0, when not one)."""
    return await resolve_subaccount(call.ctx, call.caller, login)


async def _feed(call: Call, parameter: str) -> tuple[Account, dict[str, Any], str]:
    """The feed's tree, the account it is about and its LISTNAME (status 0 when unusable)."""
    try:
        tree = await feeds.off_loop(feeds.parse_feed, call.param(parameter))
    except feeds.EmptyFeed:
        raise failed(f"Missing or empty {parameter}") from None
    except feeds.InvalidFeed as exc:
        raise failed(f"{parameter} is not valid JSON or XML: {exc}") from None
    login = feeds.text_of(tree, "SUBACCOUNT") or call.param("subaccount")
    account = await _owner(call, login)
    name = feeds.text_of(tree, "LISTNAME")
    if name is None:
        raise failed(f"Missing LISTNAME in {parameter}")
    return account, tree, name.strip()


def _flag(tree: dict[str, Any], tag: str) -> bool:
    value = feeds.text_of(tree, tag) or "0"
    if value not in _FLAGS:
        raise failed(f"{tag} must be 0 or 1, not {value!r}")
    return _FLAGS[value]


def _field(item: Any) -> FieldSpec:
    if not isinstance(item, dict):
        raise failed("Each STRUCTURE field needs FIELDNAME, FILTER and MAILING tags")
    name = feeds.text_of(item, "FIELDNAME")
    if name is None:
        raise failed("A STRUCTURE field has no FIELDNAME")
    return FieldSpec(name, _flag(item, "FILTER"), _flag(item, "MAILING"))


@method("createList", errors=STATUS_0_ERRORS, takes_subaccount=False, feed="listData")
async def create_list(call: Call) -> Fields:
    account, tree, name = await _feed(call, "listData")
    fields = [_field(item) for item in feeds.items_of(tree, "STRUCTURE", "FIELDS", "FIELD")]
    try:
        await lists.create_list(
            call.ctx, account.id, name, locked=_flag(tree, "LOCKED"), fields=fields
        )
    except ListError as exc:
        raise failed(str(exc)) from None
    return {"status": 1, "statusText": f"list {name} successfully created"}


def _counts(text: str, counts: ContactCounts) -> Fields:
    return {
        "status": 1,
        "statusText": text,
        "success": counts.success,
        "ignored": counts.ignored,
        "duplicated": counts.duplicated,
    }


def _contacts(tree: dict[str, Any], parameter: str) -> list[Any]:
    items = feeds.items_of(tree, "CONTACTS", "CONTACT")
    if not items:
        raise failed(f"No CONTACTS in {parameter}")
    return items


async def _contacts_change(call: Call, parameter: str, change: ContactsChange, verb: str) -> Fields:
    account, tree, name = await _feed(call, parameter)
    try:
        counts = await change(call.ctx, account.id, name, _contacts(tree, parameter))
    except ListError as exc:
        raise failed(str(exc)) from None
    return _counts(f"list {name} successfully {verb}", counts)


@method("populateList", errors=STATUS_0_ERRORS, takes_subaccount=False, feed="populateData")
async def populate_list(call: Call) -> Fields:
    return await _contacts_change(call, "populateData", lists.populate_list, "populated")


@method("deleteContacts", errors=STATUS_0_ERRORS, takes_subaccount=False, feed="deleteData")
async def delete_contacts(call: Call) -> Fields:
    return await _contacts_change(call, "deleteData", lists.delete_contacts, "updated")


@method("deleteList", errors=STATUS_0_ERRORS, takes_subaccount=False)
async def delete_list(call: Call) -> Fields:
    account = await _owner(call, call.param("subaccount"))
    name = call.param("listName")
    if name is None:
        raise failed("Missing parameter: listName")
    try:
        await lists.delete_list(call.ctx, account.id, name.strip())
    except ListError as exc:
        raise failed(str(exc)) from None
    return {"status": 1, "statusText": f"list {name.strip()} has been successfully deleted"}


@method("getLists")
async def get_lists(call: Call) -> Fields:
    found = await lists.get_lists(call.ctx, call.account.id)
    tz = call.account.timezone
    return {
        "lists": [
            {
                "listName": item.name,
                "contacts": item.contacts,
                "locked": int(item.locked),
                "creationDate": _local_day(item, tz),
            }
            for item in found
        ]
    }


def _local_day(item: lists.ContactList, tz: str) -> str:
    return format_local(item.created_at, tz)[:10]


@method("getContacts")
async def get_contacts(call: Call) -> Fields:
    name = call.require("listName", "Missing parameter: listName").strip()
    try:
        _fields, found = await lists.get_contacts(call.ctx, call.account.id, name)
    except ListError as exc:
        raise error(str(exc)) from None
    # `MobilePhone`, as §26 writes it in its samples and its list of returned variables alike.
    return {"contacts": [{"MobilePhone": phone, **values} for phone, values in found]}
