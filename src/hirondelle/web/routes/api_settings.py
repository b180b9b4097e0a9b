"""`/account/api`: the API key (rotated after a typed confirmation, the new key shown once),
the webhook settings (validated as the API's setWebhooks does), a test event through the
outbox, and the outbox's last deliveries.

A new API key or webhook secret appears in one answer only: it is stored as a digest (the key)
or sealed (the secret), the page carries `Cache-Control: no-store` like every page, and nothing
logs it (the access log has the path, never the body).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from hirondelle.services import access, accounts, webhooks
from hirondelle.services.accounts import AccountError
from hirondelle.services.webhooks import WebhookError
from hirondelle.web.account_pages import AccountPage
from hirondelle.web.area import posted
from hirondelle.web.i18n import N_

ROTATE_WORD = "ROTATE"
TYPE_ROTATE = N_("Type ROTATE to confirm: the current key stops working within a second.")
TEST_QUEUED = N_("A test event is in the outbox: it goes out as a real event does.")


async def _api(page: AccountPage, status: int = 200, **values: object) -> Response:
    settings = await webhooks.webhook_settings(page.ctx, page.account.id)
    deliveries = await webhooks.recent_deliveries(page.ctx, page.account.id)
    allowed = await access.allowed_ips(page.ctx, page.account.login)
    return page.render(
        "api_settings.html",
        status,
        hooks=settings,
        deliveries=deliveries,
        allowed_ips=allowed,
        batch_max=webhooks.MAX_BATCH,
        **values,
    )


async def api_page(request: Request) -> Response:
    page = await AccountPage.open(request)
    if page.refusal is not None:
        return page.refusal
    return await _api(page)


async def rotate_key(request: Request) -> Response:
    """POST with `confirm` = ROTATE: a new key, shown on this answer only."""
    opened = await posted(request)
    if isinstance(opened, Response):
        return opened
    page, form = opened
    if form.get("confirm", "").strip() != ROTATE_WORD:
        return await _api(page, 400, key_error=TYPE_ROTATE)
    api_key = await accounts.rotate_api_key(page.ctx, page.account.login)
    return page.render("api_key.html", api_key=api_key)


async def save_webhooks(request: Request) -> Response:
    """POST the two URLs (empty clears one), the receipts wanted, the batch size, and whether
    to generate a new signing secret (shown once)."""
    opened = await posted(request)
    if isinstance(opened, Response):
        return opened
    page, form = opened
    try:
        changed = await webhooks.configure(
            page.ctx,
            page.account.id,
            receipt_url=form.get("receipt_url", "").strip() or webhooks.CLEAR,
            reply_url=form.get("reply_url", "").strip() or webhooks.CLEAR,
            secret=webhooks.GENERATE if form.get("new_secret") else None,
            receipt_events=form.get("receipt_events") or None,
            batch=form.get("batch") or None,
        )
    except WebhookError as exc:
        return await _api(page, 400, hook_error=str(exc), posted=form)
    return await _api(page, new_secret=changed.new_secret, hooks_saved=True)


async def test_event(request: Request) -> Response:
    """POST `kind` receipt or reply: a made-up event of that kind to the account's URL."""
    opened = await posted(request)
    if isinstance(opened, Response):
        return opened
    page, form = opened
    try:
        await webhooks.send_test_event(page.ctx, page.account.id, form.get("kind", ""))
    except WebhookError as exc:
        return await _api(page, 400, hook_error=str(exc))
    return await _api(page, test_queued=TEST_QUEUED)


async def save_allowed_ips(request: Request) -> Response:
    """POST `addresses`, one address or CIDR range per line (or separated by commas or spaces):
    the account's whole allow-list; empty allows every address. The customer area itself is
    not subject to the list, so a mistake here can always be undone here."""
    opened = await posted(request)
    if isinstance(opened, Response):
        return opened
    page, form = opened
    text = form.get("addresses", "")
    entries = text.replace(",", " ").split()
    try:
        await access.change_allowed_ips(page.ctx, page.account.login, replace=entries)
    except AccountError as exc:
        return await _api(page, 400, ips_error=str(exc), posted_ips=text)
    return await _api(page, ips_saved=True)
