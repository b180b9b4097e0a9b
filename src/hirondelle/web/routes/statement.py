"""`/account/statement` (+ `.csv`): every credit movement of the account, newest first."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from starlette.requests import Request
from starlette.responses import Response

from hirondelle.domain.dates import format_local
from hirondelle.services import statement
from hirondelle.services.paging import cursor
from hirondelle.web.account_pages import AccountPage
from hirondelle.web.area import csv_download, pager
from hirondelle.web.i18n import N_

#: The words for a ledger row's kind (store values), translated where they are shown.
KIND_LABELS = {
    "topup": N_("Top-up"),
    "debit": N_("Campaign"),
    "refund": N_("Refund"),
    "cancel": N_("Campaign cancelled"),
    "transfer_in": N_("Transfer received"),
    "transfer_out": N_("Transfer sent"),
    "adjustment": N_("Adjustment"),
}


async def statement_page(request: Request) -> Response:
    page = await AccountPage.open(request)
    if page.refusal is not None:
        return page.refusal
    found = await statement.statement_page(
        page.ctx, page.account, cursor(request.query_params.get("before"))
    )
    return page.render(
        "statement.html", movements=found.items, kinds=KIND_LABELS, pages=pager(page, found.next)
    )


async def statement_csv(request: Request) -> Response:
    page = await AccountPage.open(request)
    if page.refusal is not None:
        return page.refusal
    timezone = page.account.timezone

    async def rows() -> AsyncIterator[Sequence[object]]:
        async for move in statement.statement_export(page.ctx, page.account):
            yield (
                format_local(move.created_at, timezone),
                move.kind,
                move.delta,
                move.balance_after,
                move.reference,
            )

    return csv_download(
        "statement.csv", ("date", "kind", "credits", "balance", "reference"), rows()
    )
