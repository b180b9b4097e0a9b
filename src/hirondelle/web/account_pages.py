"""What every signed-in page of the customer area shares: the session check, the CSRF token of
its forms, and rendering with the account's navigation (templates/_account_nav.html).

A page handler is:

    async def campaigns_page(request: Request) -> Response:
        page = await AccountPage.open(request)
        if page.refusal is not None:
            return page.refusal          # signed out: back to the sign-in form
        lines = await campaigns.list_campaigns(page.ctx, page.account, ...)
        return page.render("campaigns.html", lines=lines)

and a POST handler first checks `await page.form()` (None when the CSRF token is wrong: answer
`page.expired()`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hirondelle.context import Context
from hirondelle.services import web_sessions
from hirondelle.services.accounts import Account
from hirondelle.services.web_sessions import WebSession
from hirondelle.web import csrf
from hirondelle.web.i18n import N_
from hirondelle.web.pages import render
from hirondelle.web.sessions import signed_in

ACCOUNT_PATH = "/account/"
SESSION_SUBJECT = "session"
FORM_EXPIRED = N_("This form has expired or did not come from this site. Please try again.")


@dataclass
class AccountPage:
    request: Request
    ctx: Context
    session: WebSession | None
    refusal: Response | None = None

    @classmethod
    async def open(cls, request: Request) -> AccountPage:
        ctx: Context = request.app.state.ctx
        session = await signed_in(request)
        page = cls(request, ctx, session)
        if session is None:
            page.refusal = RedirectResponse(ACCOUNT_PATH, 303)
        return page

    @property
    def account(self) -> Account:
        assert self.session is not None, "open() refused a signed-out request"
        return self.session.account

    @property
    def csrf_token(self) -> str:
        assert self.session is not None
        return csrf.form_token(self.session.csrf_secret, SESSION_SUBJECT)

    async def form(self) -> dict[str, str] | None:
        """The posted fields (text only), or None when the form's CSRF token is not good."""
        assert self.session is not None
        posted = await self.request.form()
        fields = {key: value if isinstance(value, str) else "" for key, value in posted.items()}
        if not csrf.check_form_token(
            self.session.csrf_secret,
            SESSION_SUBJECT,
            fields.get("csrf", ""),
            max_age=web_sessions.IDLE_SECONDS,
        ):
            return None
        return fields

    def expired(self) -> Response:
        return render(self.request, "refused.html", 403, error=FORM_EXPIRED)

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        """`template` with the account, its navigation and a fresh CSRF token for its forms."""
        return render(
            self.request,
            template,
            status,
            account=self.account,
            csrf=self.csrf_token,
            **values,
        )
