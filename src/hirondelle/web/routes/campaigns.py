"""`/account/campaigns`: the list, a campaign's page (with its live counts for htmx), the CSV
export of its messages, and cancelling a scheduled campaign. A campaign id the signed-in account
may not see is a 404, never a 403."""

from __future__ import annotations

from datetime import date

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hirondelle.services import campaign_pages
from hirondelle.services.campaign_pages import CampaignFilter
from hirondelle.web.account_pages import AccountPage
from hirondelle.web.area import csv_download
from hirondelle.web.i18n import N_

NOT_FOUND = N_("No such campaign.")
#: deleteCampaign's answers (annex 7) that leave the campaign cancelled.
CANCELLED = ("OK", "CAMPAIGNALREADYDELETED")


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _keyset(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and len(text) < 19 else None


def _not_found(page: AccountPage) -> Response:
    return page.render("refused.html", 404, error=NOT_FOUND)


async def campaign_list(request: Request) -> Response:
    page = await AccountPage.open(request)
    if page.refusal is not None:
        return page.refusal
    query = request.query_params
    where = CampaignFilter(
        name=query.get("name", "")[:255],
        since=_day(query.get("since")),
        until=_day(query.get("until")),
        state=query.get("state", ""),
    )
    found = await campaign_pages.list_campaigns(
        page.ctx, page.account, where, _keyset(query.get("before"))
    )
    more = {k: v for k, v in query.items() if k != "before"}
    return page.render(
        "campaigns.html",
        where=where,
        found=found,
        states=campaign_pages.STATES,
        more=more,
        status_counts=campaign_pages.status_counts,
    )


async def campaign_page(request: Request) -> Response:
    page = await AccountPage.open(request)
    if page.refusal is not None:
        return page.refusal
    after = _keyset(request.query_params.get("after")) or 0
    view = await campaign_pages.campaign_view(
        page.ctx, page.account, request.path_params["campaign_id"], after
    )
    if view is None:
        return _not_found(page)
    template = "_campaign_counts.html" if request.url.path.endswith("/counts") else "campaign.html"
    return page.render(template, view=view, after=after, notice=request.query_params.get("done"))


#: The columns of a campaign's CSV export, named as the API's getAcks names them.
EXPORT_HEADER = (
    "smsId",
    "phone",
    "status",
    "statusText",
    "operatorTime",
    "parts",
    "credits",
    "cliMsgId",
    "reply",
    "message",
)


async def campaign_csv(request: Request) -> Response:
    page = await AccountPage.open(request)
    if page.refusal is not None:
        return page.refusal
    public_id = request.path_params["campaign_id"]
    campaign = await campaign_pages.find(page.ctx, page.account, public_id)
    if campaign is None:
        return _not_found(page)
    return csv_download(
        f"campaign-{campaign['public_id']}.csv",
        EXPORT_HEADER,
        campaign_pages.export_rows(page.ctx, page.account, campaign["id"]),
    )


async def cancel_campaign(request: Request) -> Response:
    page = await AccountPage.open(request)
    if page.refusal is not None:
        return page.refusal
    if await page.form() is None:
        return page.expired()
    public_id = request.path_params["campaign_id"]
    status = await campaign_pages.cancel(page.ctx, page.account, public_id)
    if status is None:
        return _not_found(page)
    answer = "cancelled" if status in CANCELLED else "refused"
    return RedirectResponse(f"/account/campaigns/{public_id}?done={answer}", 303)
