"""`/account/`: the sign-in form (signed out) or the dashboard (signed in), and sign-out.

A handler decodes the form, calls a service, renders a template (DESIGN.md §7). Every form
carries a CSRF token (web/csrf.py): the sign-in form's is bound to a random cookie of the
browser, a signed-in page's to its session's own secret.
"""

from __future__ import annotations

from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hirondelle.context import Context
from hirondelle.services import dashboard, web_sessions
from hirondelle.web import csrf
from hirondelle.web.account_pages import ACCOUNT_PATH, FORM_EXPIRED, AccountPage
from hirondelle.web.i18n import N_
from hirondelle.web.pages import render
from hirondelle.web.sessions import (
    COOKIE,
    SIGN_IN_COOKIE,
    forget_cookie,
    set_cookie,
    sign_in_nonce,
)

SIGN_IN_SUBJECT = "sign-in:"
WRONG_PASSWORD = N_("Wrong login or password.")


async def form_fields(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value if isinstance(value, str) else "" for key, value in form.items()}


def signed_out_form(
    request: Request, template: str, subject: str, status: int = 200, **values: Any
) -> Response:
    """A form of a signed-out visitor (sign in, forgotten password): its CSRF token is bound to
    the browser's random sign-in cookie (set here when missing) and to what the form is for."""
    ctx: Context = request.app.state.ctx
    nonce, new = sign_in_nonce(request)
    token = csrf.form_token(ctx.secret, subject + nonce)
    response = render(request, template, status, csrf=token, **values)
    if new:
        set_cookie(request, response, SIGN_IN_COOKIE, nonce)
    return response


def signed_out_form_ok(request: Request, subject: str, fields: dict[str, str]) -> bool:
    ctx: Context = request.app.state.ctx
    nonce = request.cookies.get(SIGN_IN_COOKIE, "")
    return bool(nonce) and csrf.check_form_token(
        ctx.secret, subject + nonce, fields.get("csrf", "")
    )


def _sign_in_form(
    request: Request, status: int = 200, error: str = "", login: str = ""
) -> Response:
    return signed_out_form(
        request, "sign_in.html", SIGN_IN_SUBJECT, status, error=error, login=login
    )


async def account_page(request: Request) -> Response:
    if request.method == "POST":
        return await _sign_in(request)
    page = await AccountPage.open(request)
    if page.refusal is not None:
        return _sign_in_form(request)
    board = await dashboard.dashboard(page.ctx, page.account)
    return page.render("dashboard.html", board=board)


async def _sign_in(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    fields = await form_fields(request)
    if not signed_out_form_ok(request, SIGN_IN_SUBJECT, fields):
        return _sign_in_form(request, 403, error=FORM_EXPIRED)
    login = fields.get("login", "")
    address = request.client.host if request.client else None
    session_id = await web_sessions.sign_in(
        ctx, login, fields.get("password", ""), address, replacing=request.cookies.get(COOKIE)
    )
    if session_id is None:
        request.state.auth = "failed"  # on the access log line
        return _sign_in_form(request, 401, error=WRONG_PASSWORD, login=login)
    response = RedirectResponse(ACCOUNT_PATH, 303)
    set_cookie(request, response, COOKIE, session_id)
    return response


async def sign_out(request: Request) -> Response:
    """POST with the page's CSRF token: revoke the session in the store, drop the cookie."""
    return await end_session(await AccountPage.open(request), COOKIE, "/")


class SessionPage(Protocol):
    request: Request
    ctx: Context

    @property
    def refusal(self) -> Response | None: ...

    async def form(self) -> dict[str, str] | None: ...

    def expired(self) -> Response: ...


async def end_session(page: SessionPage, cookie: str, to: str, path: str = "/") -> Response:
    """Sign-out of a customer's or an administrator's page: check the form's CSRF token, revoke
    the session in the store, drop the `cookie` (set for `path`), go to `to`."""
    if page.refusal is not None:
        return page.refusal
    if await page.form() is None:
        return page.expired()
    request = page.request
    await web_sessions.sign_out(page.ctx, request.cookies.get(cookie, ""))
    response = RedirectResponse(to, 303)
    forget_cookie(request, response, cookie, path=path)
    return response
