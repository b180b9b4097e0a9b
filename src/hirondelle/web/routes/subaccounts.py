"""`/account/sub-accounts` (a master's sub-accounts: list, create) and
`/account/sub-accounts/{login}` (one of them: its figures and latest campaigns, edit, deactivate,
move credits either way, delete). A sub-account has no such pages (404), and a login that is
not the master's own live sub-account is a 404 too.

Every change goes through `services/subaccounts.py`, the rules of the API's createSubAccount,
updateSubAccount, manageSubAccountCredits and deleteSubAccount.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hirondelle.services import dashboard, subaccount_pages, subaccounts
from hirondelle.services.accounts import Account, AccountError, LoginTaken
from hirondelle.services.paging import cursor
from hirondelle.services.subaccounts import TransferRefused
from hirondelle.web.account_pages import AccountPage
from hirondelle.web.area import not_found, pager
from hirondelle.web.i18n import N_

SUBACCOUNTS_PATH = "/account/sub-accounts"
#: The fields of the create and edit forms (services/subaccounts.py validates them).
FORM_FIELDS = ("login", "password", "first_name", "last_name", "email", "society", "mobile")
TRANSFER_REFUSALS = {
    "not_linked": N_("This sub-account is not yours."),
    "postpaid": N_("A postpaid sub-account has no credits to move."),
    "sub_short": N_("The sub-account does not have that many credits."),
    "master_short": N_("You do not have that many credits."),
}
BAD_CREDITS = N_("Type a whole number of credits, more than 0.")
LOGIN_TAKEN = N_("This login is already taken.")


def _values(form: dict[str, str]) -> dict[str, str]:
    return {name: form.get(name, "") for name in FORM_FIELDS if form.get(name, "").strip()}


async def _list(page: AccountPage, status: int = 200, **values: object) -> Response:
    found = await subaccount_pages.subaccounts_page(
        page.ctx, page.account, cursor(page.request.query_params.get("after"))
    )
    return page.render(
        "sub_accounts.html",
        status,
        subs=found.items,
        pages=pager(page, found.next, key="after"),
        **values,
    )


async def subaccounts_page(request: Request) -> Response:
    page = await AccountPage.open(request)
    if page.refusal is not None:
        return page.refusal
    if page.account.parent_id is not None:
        return not_found(page)
    if request.method != "POST":
        return await _list(page)
    form = await page.form()
    if form is None:
        return page.expired()
    try:
        created = await subaccounts.create_subaccount(page.ctx, page.account, _values(form))
    except LoginTaken:
        return await _list(page, 400, error=LOGIN_TAKEN, posted=form)
    except AccountError as exc:
        return await _list(page, 400, error=str(exc), posted=form)
    return RedirectResponse(f"{SUBACCOUNTS_PATH}/{quote(created.login, safe='')}", 303)


async def _one(page: AccountPage, sub: Account, status: int = 200, **values: object) -> Response:
    board = await dashboard.dashboard(page.ctx, sub)
    return page.render("sub_account.html", status, sub=sub, board=board, **values)


async def subaccount_page(request: Request) -> Response:
    page = await AccountPage.open(request)
    if page.refusal is not None:
        return page.refusal
    sub = await subaccount_pages.subaccount_of(page.ctx, page.account, request.path_params["login"])
    if sub is None:
        return not_found(page)
    if request.method != "POST":
        return await _one(page, sub)
    form = await page.form()
    if form is None:
        return page.expired()
    action = form.get("action", "")
    try:
        if action == "delete":
            await subaccounts.delete_subaccount(page.ctx, page.account, sub.login)
            return RedirectResponse(SUBACCOUNTS_PATH, 303)
        if action == "transfer":
            return await _transfer(page, sub, form)
        changes = {"active": "1" if action == "activate" else "0"}
        if action == "save":
            changes = _values(form)
        sub = await subaccounts.update_subaccount(page.ctx, page.account, sub.login, changes)
    except LoginTaken:
        return await _one(page, sub, 400, error=LOGIN_TAKEN)
    except AccountError as exc:
        return await _one(page, sub, 400, error=str(exc))
    if sub.login != request.path_params["login"]:
        return RedirectResponse(f"{SUBACCOUNTS_PATH}/{quote(sub.login, safe='')}", 303)
    return await _one(page, sub, saved=True)


async def _transfer(page: AccountPage, sub: Account, form: dict[str, str]) -> Response:
    text = form.get("credits", "").strip()
    if not text.isascii() or not text.isdigit() or int(text) == 0:
        return await _one(page, sub, 400, error=BAD_CREDITS)
    credits = int(text) if form.get("direction") != "back" else -int(text)
    try:
        await subaccounts.transfer_credits(page.ctx, page.account, sub.login, credits)
    except TransferRefused as exc:
        return await _one(page, sub, 400, error=TRANSFER_REFUSALS[exc.reason])
    refreshed = await subaccount_pages.subaccount_of(page.ctx, page.account, sub.login)
    return await _one(page, refreshed or sub, moved=credits)
