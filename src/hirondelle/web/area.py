"""What several customer-area pages share beyond `AccountPage`: the 404 of an id that is not
the account's, the file of an upload form, a streamed CSV download, the notice after a change."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from hirondelle.web.account_pages import AccountPage
from hirondelle.web.i18n import N_
from hirondelle.web.pages import HEADERS

NOT_FOUND = N_("There is no such page in your account.")
NO_FILE = N_("Choose a file to import.")
#: A cell starting with one of these is a formula to a spreadsheet: such text gets a leading '.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


async def posted(request: Request) -> tuple[AccountPage, dict[str, str]] | Response:
    """A signed-in page and its posted fields, or the answer when there are none to act on:
    signed out (to the sign-in form), or a form without its good CSRF token (403)."""
    page = await AccountPage.open(request)
    if page.refusal is not None:
        return page.refusal
    form = await page.form()
    if form is None:
        return page.expired()
    return page, form


def not_found(page: AccountPage) -> Response:
    """Another account's id (or no id at all): 404, never 403 — nothing says it exists."""
    return page.render("account_not_found.html", 404, error=NOT_FOUND)


async def uploaded(page: AccountPage, name: str = "file") -> tuple[str, bytes] | None:
    """The file posted in the field `name` (after `page.form()` checked the CSRF token), or
    None when none was chosen. The body's size was bounded while it arrived (bodylimit.py)."""
    posted = await page.request.form()  # parsed once, by page.form(): Starlette keeps it
    value = posted.get(name)
    if not isinstance(value, UploadFile):
        return None
    data = await value.read()
    return (value.filename or "", data) if data else None


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_STARTS) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _line(cells: Iterable[object]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([_cell(cell) for cell in cells])
    return out.getvalue()


def csv_download(
    filename: str, heading: Sequence[str], rows: AsyncIterator[Sequence[object]]
) -> Response:
    """A CSV file streamed as `rows` come (UTF-8 with a BOM, for spreadsheets), never built
    whole in memory."""

    async def lines() -> AsyncIterator[str]:
        yield "\ufeff" + _line(heading)
        async for row in rows:
            yield _line(row)

    headers = {
        **HEADERS,
        "Content-Disposition": f'attachment; filename="{filename}"',
    }
    return StreamingResponse(lines(), media_type="text/csv; charset=utf-8", headers=headers)


@dataclass(frozen=True, slots=True)
class Pager:
    """`_pager.html`'s links: the next page (None on the last) and the first (None on it)."""

    next_url: str | None
    first_url: str | None


def pager(page: AccountPage, next_cursor: int | None, key: str = "before") -> Pager:
    """The links of `_pager.html` (passed as `pages`), keeping the page's other parameters (a
    search, say)."""
    params = {k: v for k, v in page.request.query_params.items() if k != key}
    path = page.request.url.path

    def address(values: dict[str, str]) -> str:
        return f"{path}?{urlencode(values)}" if values else path

    return Pager(
        address({**params, key: str(next_cursor)}) if next_cursor else None,
        address(params) if key in page.request.query_params else None,
    )
