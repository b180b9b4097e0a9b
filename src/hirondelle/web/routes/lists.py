"""`/account/lists` (the account's contact lists: create) and `/account/lists/{name}` (a list's
contacts: search, import, edit, delete; delete the list).

A list's own page takes every change as a POST to its address with an `action` field, so a list
name may hold any character (a `/` included) without clashing with sub-paths. The rules are
the API's, plus "a locked list is read-only here" (`services/list_pages.py`).
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hirondelle.services import list_pages, lists
from hirondelle.services.contact_files import ImportFileError, read_rows, xlsx_available
from hirondelle.services.list_pages import UnknownContact
from hirondelle.services.lists import ListError, UnknownList
from hirondelle.services.paging import cursor
from hirondelle.web.account_pages import AccountPage
from hirondelle.web.area import NO_FILE, not_found, pager, uploaded

LISTS_PATH = "/account/lists"


def list_path(name: str) -> str:
    return f"{LISTS_PATH}/{quote(name, safe='')}"


async def _lists(page: AccountPage, status: int = 200, **values: object) -> Response:
    found = await lists.get_lists(page.ctx, page.account.id)
    return page.render("lists.html", status, lists=found, **values)


async def lists_page(request: Request) -> Response:
    """GET: the lists. POST: create one (a name, and field names separated by commas)."""
    page = await AccountPage.open(request)
    if page.refusal is not None:
        return page.refusal
    if request.method != "POST":
        return await _lists(page)
    form = await page.form()
    if form is None:
        return page.expired()
    name = form.get("name", "").strip()
    try:
        await list_pages.create_list(page.ctx, page.account.id, name, form.get("fields", ""))
    except ListError as exc:
        return await _lists(
            page, 400, error=str(exc), list_name=name, fields=form.get("fields", "")
        )
    return RedirectResponse(list_path(name), 303)


async def _list(page: AccountPage, name: str, status: int = 200, **values: object) -> Response:
    query = page.request.query_params
    search = query.get("q", "").strip()
    try:
        head, found = await list_pages.contacts_page(
            page.ctx, page.account.id, name, cursor(query.get("after")), search or None
        )
    except UnknownList:
        return not_found(page)
    return page.render(
        "list.html",
        status,
        head=head,
        contacts=found.items,
        q=search,
        list_url=list_path(head.name),
        xlsx=xlsx_available(),
        pages=pager(page, found.next, key="after"),
        **values,
    )


async def list_page(request: Request) -> Response:
    page = await AccountPage.open(request)
    if page.refusal is not None:
        return page.refusal
    name = request.path_params["name"]
    if request.method != "POST":
        return await _list(page, name)
    form = await page.form()
    if form is None:
        return page.expired()
    action = form.get("action", "")
    try:
        if action == "delete-list":
            await list_pages.delete_list(page.ctx, page.account.id, name)
            return RedirectResponse(LISTS_PATH, 303)
        if action == "import":
            return await _import(page, name)
        if action in ("save-contact", "delete-contact"):
            contact_id = cursor(form.get("contact"))
            if contact_id is None:
                return not_found(page)
            if action == "delete-contact":
                await list_pages.delete_contact(page.ctx, page.account.id, name, contact_id)
                return await _list(page, name, deleted=True)
            head = await list_pages.list_head(page.ctx, page.account.id, name)
            values = {f.name: form.get(f"field:{f.name}", "").strip() for f in head.fields}
            await list_pages.update_contact(
                page.ctx, page.account.id, name, contact_id, form.get("phone", ""), values
            )
            return await _list(page, name, saved=True)
    except (UnknownList, UnknownContact):
        return not_found(page)
    except ListError as exc:
        return await _list(page, name, 400, error=str(exc))
    return await _list(page, name, 400)


async def _import(page: AccountPage, name: str) -> Response:
    upload = await uploaded(page)
    if upload is None:
        return await _list(page, name, 400, error=NO_FILE)
    try:
        rows = read_rows(upload[1], upload[0])
    except ImportFileError as exc:
        return await _list(page, name, 400, error=str(exc))
    result = await list_pages.import_contacts(page.ctx, page.account.id, name, rows)
    return await _list(page, name, imported=result)
