"""`/account/replies` (the replies inbox) and `/account/blacklist` (list, add, remove, import,
export): pages over `services/inbox.py`, which applies the API's blacklist rules."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from starlette.requests import Request
from starlette.responses import Response

from hirondelle.domain.dates import format_local
from hirondelle.services import inbox, reports
from hirondelle.services.contact_files import ImportFileError, read_rows, xlsx_available
from hirondelle.services.paging import cursor
from hirondelle.web.account_pages import AccountPage
from hirondelle.web.area import NO_FILE, csv_download, pager, posted, uploaded
from hirondelle.web.i18n import N_

NOTHING_VALID = N_("No valid mobile number.")


async def replies_page(request: Request) -> Response:
    page = await AccountPage.open(request)
    if page.refusal is not None:
        return page.refusal
    search = request.query_params.get("q", "").strip()
    found = await inbox.replies_page(
        page.ctx, page.account, cursor(request.query_params.get("before")), search or None
    )
    return page.render("replies.html", replies=found.items, q=search, pages=pager(page, found.next))


async def _blacklist(page: AccountPage, status: int = 200, **values: object) -> Response:
    search = page.request.query_params.get("q", "").strip()
    found = await inbox.blacklist_page(
        page.ctx, page.account, cursor(page.request.query_params.get("before")), search or None
    )
    return page.render(
        "blacklist.html",
        status,
        entries=found.items,
        q=search,
        xlsx=xlsx_available(),
        pages=pager(page, found.next),
        **values,
    )


async def blacklist_page(request: Request) -> Response:
    """GET: the list. POST: `action` add or remove the numbers typed (commas, spaces or lines
    between them)."""
    page = await AccountPage.open(request)
    if page.refusal is not None:
        return page.refusal
    if request.method != "POST":
        return await _blacklist(page)
    form = await page.form()
    if form is None:
        return page.expired()
    numbers = reports.split_ids(form.get("numbers", ""))
    if form.get("action") == "remove":
        change = await reports.remove_from_blacklist(page.ctx, page.account, numbers)
    else:
        change = await reports.add_to_blacklist(page.ctx, page.account, numbers)
    if not change.changed and not change.unchanged:
        return await _blacklist(page, 400, error=NOTHING_VALID, numbers=form.get("numbers", ""))
    return await _blacklist(page, change=change, removing=form.get("action") == "remove")


async def blacklist_import(request: Request) -> Response:
    """POST a CSV/TXT (or XLSX) file: the first cell of each line is a number to blacklist."""
    opened = await posted(request)
    if isinstance(opened, Response):
        return opened
    page = opened[0]
    upload = await uploaded(page)
    if upload is None:
        return await _blacklist(page, 400, error=NO_FILE)
    try:
        rows = read_rows(upload[1], upload[0])
    except ImportFileError as exc:
        return await _blacklist(page, 400, error=str(exc))
    counts = await inbox.import_blacklist(page.ctx, page.account, [row[0] for row in rows])
    return await _blacklist(page, imported=counts)


async def blacklist_csv(request: Request) -> Response:
    page = await AccountPage.open(request)
    if page.refusal is not None:
        return page.refusal
    timezone = page.account.timezone

    async def rows() -> AsyncIterator[Sequence[object]]:
        async for line in inbox.blacklist_export(page.ctx, page.account):
            yield (line.phone, line.comment, format_local(line.created_at, timezone))

    return csv_download("blacklist.csv", ("phoneNumber", "comment", "date"), rows())
