"""The operators' area's own sign-in and pages: an administrator's session (services/admins.py)
in the cookie `hir_admin`, sent only to /admin/ — a customer's session cookie opens nothing
here, and this one no customer page. Every form carries a CSRF token keyed with the session's
secret; the sign-in form's is bound to the browser's sign-in cookie, as the customers' is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hirondelle.context import Context
from hirondelle.services import admins, web_sessions
from hirondelle.services.admins import AdminSession
from hirondelle.web import csrf
from hirondelle.web.account_pages import FORM_EXPIRED
from hirondelle.web.i18n import N_
from hirondelle.web.pages import render
from hirondelle.web.routes.account import (
    end_session,
    form_fields,
    signed_out_form,
    signed_out_form_ok,
)
from hirondelle.web.sessions import set_cookie

ADMIN_PATH = "/admin/"
COOKIE = "hir_admin"
SIGN_IN_SUBJECT = "admin-sign-in:"
SESSION_SUBJECT = "admin-session"
WRONG_PASSWORD = N_("Wrong login or password.")


@dataclass
class AdminPage:
    request: Request
    ctx: Context
    session: AdminSession | None

    @classmethod
    async def open(cls, request: Request) -> AdminPage:
        ctx: Context = request.app.state.ctx
        session = await admins.current(ctx, request.cookies.get(COOKIE))
        return cls(request, ctx, session)

    @property
    def refusal(self) -> Response | None:
        """Signed out: back to the sign-in form."""
        return RedirectResponse(ADMIN_PATH, 303) if self.session is None else None

    async def form(self) -> dict[str, str] | None:
        """The posted fields, or None when the CSRF token is not good."""
        assert self.session is not None
        fields = await form_fields(self.request)
        good = csrf.check_form_token(
            self.session.csrf_secret,
            SESSION_SUBJECT,
            fields.get("csrf", ""),
            max_age=web_sessions.IDLE_SECONDS,
        )
        return fields if good else None

    def expired(self) -> Response:
        return render(self.request, "refused.html", 403, error=FORM_EXPIRED)

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        assert self.session is not None
        token = csrf.form_token(self.session.csrf_secret, SESSION_SUBJECT)
        return render(
            self.request, template, status, admin=self.session.admin, csrf=token, **values
        )


def sign_in_form(request: Request, status: int = 200, error: str = "") -> Response:
    return signed_out_form(request, "admin_sign_in.html", SIGN_IN_SUBJECT, status, error=error)


async def sign_in(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    fields = await form_fields(request)
    if not signed_out_form_ok(request, SIGN_IN_SUBJECT, fields):
        return sign_in_form(request, 403, error=FORM_EXPIRED)
    address = request.client.host if request.client else None
    session_id = await admins.sign_in(
        ctx,
        fields.get("login", ""),
        fields.get("password", ""),
        address,
        replacing=request.cookies.get(COOKIE),
    )
    if session_id is None:
        request.state.auth = "failed"
        return sign_in_form(request, 401, error=WRONG_PASSWORD)
    response = RedirectResponse(ADMIN_PATH, 303)
    set_cookie(request, response, COOKIE, session_id, path=ADMIN_PATH)
    return response


async def sign_out(request: Request) -> Response:
    return await end_session(await AdminPage.open(request), COOKIE, ADMIN_PATH, ADMIN_PATH)
