"""`/account/send`: the send form, its preview (simulateCampaign's rules, the recipients imported
and counted) and its confirmation (the send service, idempotent on the form's nonce)."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hirondelle.services import lists, web_sending
from hirondelle.services.planning import SendRefused
from hirondelle.web.account_pages import AccountPage
from hirondelle.web.i18n import N_

NO_DRAFT = N_("This preview has expired. Please prepare the campaign again.")
NO_RECIPIENT = N_("Give at least one recipient: type numbers, import a file or pick a list.")
UNREADABLE = N_("The file could not be read: %(why)s")
#: services/web_sending.py's reasons, for the catalogue (the page translates them).
IMPORT_REASONS = (
    N_("This file is not a readable XLSX workbook."),
    N_("The file has no column of that name."),
    N_("At most 100,000 recipients per import."),
)


def _local_date(value: str) -> str:
    """A `datetime-local` input ("2026-12-03T14:30") as sendSms's DATE ("2026-12-03 14:30:00")."""
    value = value.strip()
    if not value:
        return ""
    date = value.replace("T", " ")
    return date + ":00" if len(date) == 16 else date


async def _form_page(page: AccountPage, status: int = 200, **values: object) -> Response:
    names = [found.name for found in await lists.get_lists(page.ctx, page.account.id)]
    return page.render(
        "send.html",
        status,
        lists=names,
        stop_code=page.ctx.settings.stop_short_code,
        price=web_sending.price_per_part(page.ctx, "FR"),
        fields=values.pop("fields", {}),
        **values,
    )


async def send_page(request: Request) -> Response:
    page = await AccountPage.open(request)
    if page.refusal is not None:
        return page.refusal
    if request.method != "POST":
        return await _form_page(page)
    fields = await page.form()
    if fields is None:
        return page.expired()
    upload = (await request.form()).get("file")
    file = upload if isinstance(upload, UploadFile) and upload.filename else None
    try:
        imported = await web_sending.read_form(
            file.file if file else None,
            file.filename or "" if file else "",
            fields.get("numbers", ""),
            fields.get("phone_column", ""),
        )
    except web_sending.UnreadableImport as error:
        return await _form_page(page, 400, fields=fields, error=UNREADABLE, why=str(error))
    list_name = fields.get("list", "")
    if not imported.recipients and not list_name:
        return await _form_page(page, 400, fields=fields, error=NO_RECIPIENT, imported=imported)
    draft = web_sending.Draft(
        message=fields.get("message", ""),
        sender=fields.get("sender", "").strip(),
        date=_local_date(fields.get("date", "")),
        name=fields.get("name", "").strip()[:255],
        list_name=list_name,
        recipients=[(r.mobile, r.fields) for r in imported.recipients],
    )
    try:
        preview = await web_sending.prepare(page.ctx, page.account, draft)
    except SendRefused as refused:
        return await _form_page(
            page, 400, fields=fields, refused=refused, imported=imported, error=""
        )
    return page.render("send_preview.html", preview=preview, imported=imported, draft=draft)


async def confirm_send(request: Request) -> Response:
    page = await AccountPage.open(request)
    if page.refusal is not None:
        return page.refusal
    fields = await page.form()
    if fields is None:
        return page.expired()
    try:
        outcome = await web_sending.confirm(page.ctx, page.account, fields.get("draft", ""))
    except SendRefused as refused:
        return await _form_page(page, 400, fields={}, refused=refused, error="")
    if outcome is None:
        return await _form_page(page, 400, fields={}, error=NO_DRAFT)
    return RedirectResponse(f"/account/campaigns/{outcome.campaign_id}", 303)
