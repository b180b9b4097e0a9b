"""`/admin/`: the operators' pages — accounts (search, create, top up, deactivate, rotate the
key), connectors and the messages waiting, the webhook and email outboxes. Each decodes a form,
calls a service (services/operator.py, services/accounts.py), renders a template."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hirondelle.domain.pricing import parse_credits
from hirondelle.services import accounts, operator
from hirondelle.services.accounts import AccountError
from hirondelle.web.admin import ADMIN_PATH, AdminPage, sign_in, sign_in_form, sign_out
from hirondelle.web.i18n import N_

NOT_FOUND = N_("There is no such page.")
LOGIN_TAKEN = N_("This login is already taken.")


async def accounts_page(request: Request) -> Response:
    if request.method == "POST":
        return await sign_in(request)
    page = await AdminPage.open(request)
    if page.refusal is not None:
        return sign_in_form(request)
    return await _accounts(page)


async def _accounts(page: AdminPage, status: int = 200, **values: Any) -> Response:
    query = page.request.query_params
    search = query.get("q", "")
    after = query.get("after") or None
    found = await operator.search_accounts(page.ctx, search, after)
    following = found[-1].login if len(found) == operator.PAGE_SIZE else None
    return page.render(
        "admin_accounts.html", status, found=found, search=search, following=following, **values
    )


Action = Callable[[AdminPage, dict[str, str]], Awaitable[dict[str, Any]]]


async def _create(page: AdminPage, form: dict[str, str]) -> dict[str, Any]:
    new = await accounts.create_account(
        page.ctx,
        form.get("login", ""),
        credits=_credits(form.get("credits", "") or "0"),
        email=form.get("email", "").strip(),
    )
    return {"done": "created", "login": new.account.login, "api_key": new.api_key}


async def _top_up(page: AdminPage, form: dict[str, str]) -> dict[str, Any]:
    login = form.get("login", "")
    balance = await accounts.top_up(page.ctx, login, _credits(form.get("credits", "")), "admin")
    return {"done": "topped-up", "login": login, "balance": balance}


async def _deactivate(page: AdminPage, form: dict[str, str]) -> dict[str, Any]:
    await operator.set_active(page.ctx, form.get("login", ""), False)
    return {"done": "deactivated", "login": form.get("login", "")}


async def _activate(page: AdminPage, form: dict[str, str]) -> dict[str, Any]:
    await operator.set_active(page.ctx, form.get("login", ""), True)
    return {"done": "activated", "login": form.get("login", "")}


async def _rotate(page: AdminPage, form: dict[str, str]) -> dict[str, Any]:
    login = form.get("login", "")
    api_key = await accounts.rotate_api_key(page.ctx, login)
    return {"done": "rotated", "login": login, "api_key": api_key}


def _credits(text: str) -> int:
    try:
        return parse_credits(text.strip())
    except ValueError as exc:
        raise AccountError(str(exc)) from None


ACTIONS: dict[str, Action] = {
    "create": _create,
    "topup": _top_up,
    "deactivate": _deactivate,
    "activate": _activate,
    "rotate-key": _rotate,
}


async def account_action(request: Request) -> Response:
    """POST /admin/accounts/{action}: one change through the accounts services; the page again
    with what was done (a new API key shown this once) or the service's refusal."""
    page = await AdminPage.open(request)
    if page.refusal is not None:
        return page.refusal
    form = await page.form()
    if form is None:
        return page.expired()
    action = ACTIONS.get(request.path_params["action"])
    if action is None:
        return page.render("refused.html", 404, error=NOT_FOUND)
    try:
        outcome = await action(page, form)
    except (AccountError, accounts.LoginTaken) as exc:
        message = str(exc) if isinstance(exc, AccountError) else LOGIN_TAKEN
        return await _accounts(page, 400, problem=message)
    return await _accounts(page, outcome=outcome)


async def connectors_page(request: Request) -> Response:
    page = await AdminPage.open(request)
    if page.refusal is not None:
        return page.refusal
    workers = getattr(request.app.state, "workers", None)
    return page.render(
        "admin_connectors.html",
        connectors=await operator.connectors(page.ctx, workers),
        waiting=await operator.waiting_messages(page.ctx),
    )


async def outboxes_page(request: Request) -> Response:
    page = await AdminPage.open(request)
    if page.refusal is not None:
        return page.refusal
    return page.render("admin_outboxes.html", boxes=await operator.outboxes(page.ctx))


def routes() -> list[BaseRoute]:
    return [
        Route(ADMIN_PATH, accounts_page, methods=["GET", "HEAD", "POST"]),
        Route("/admin/sign-out", sign_out, methods=["POST"]),
        Route("/admin/accounts/{action}", account_action, methods=["POST"]),
        Route("/admin/connectors", connectors_page, methods=["GET", "HEAD"]),
        Route("/admin/outboxes", outboxes_page, methods=["GET", "HEAD"]),
    ]
