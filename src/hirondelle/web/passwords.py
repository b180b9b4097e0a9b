"""`/account/set-password?token=…`: the page a new sub-account's welcome email and a
forgotten-password email link to, in English and French.

GET shows the form when the token is open (400 for an unknown link, 410 for a used or expired
one); POST checks the form's CSRF token, then sets the password and consumes the link. The
set-password token never reaches a log (the access log drops query strings), a cache or a
Referer header.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from hirondelle.context import Context
from hirondelle.services import passwords
from hirondelle.services.accounts import MIN_PASSWORD_LENGTH
from hirondelle.services.passwords import PasswordRefused, TokenRefused
from hirondelle.web import csrf
from hirondelle.web.csrf import FORM_MAX_AGE
from hirondelle.web.i18n import N_
from hirondelle.web.pages import render

__all__ = ["FORM_MAX_AGE", "check_form_token", "form_token", "set_password_page"]

#: Beside the page headers of web/pages.py: the link's token is in the URL, so no Referer at all.
HEADERS = {"Referrer-Policy": "no-referrer", "Pragma": "no-cache"}

REFUSALS: dict[str, tuple[int, str]] = {
    "unknown": (400, N_("This link is not valid. Check that it was copied whole from the email.")),
    "used": (
        410,
        N_(
            "This link has already been used: the password is set. Ask for a new link "
            "(“Forgot your password?” on the sign-in page) if you need to change it."
        ),
    ),
    "expired": (
        410,
        N_(
            "This link has expired. Ask for a new one: “Forgot your password?” on the sign-in page."
        ),
    ),
}
CSRF_REFUSAL = N_("This form has expired or did not come from this page. Open the link again.")
#: The services' refusals of a new password, as the page translates them (web/i18n.py).
PASSWORD_REFUSALS = {
    "The two passwords are not the same": N_("The two passwords are not the same"),
    f"The password must have at least {MIN_PASSWORD_LENGTH} characters": N_(
        "The password must have at least %(n)s characters"
    ),
}


def form_token(secret: bytes, token: str, now: float | None = None) -> str:
    """The CSRF token of the form for the link's `token` (web/csrf.py)."""
    return csrf.form_token(secret, "set-password:" + token, now)


def check_form_token(secret: bytes, token: str, value: str, now: float | None = None) -> bool:
    return csrf.check_form_token(secret, "set-password:" + token, value, now)


def _page(request: Request, status: int, **values: Any) -> Response:
    return render(
        request,
        "set_password.html",
        status,
        headers=HEADERS,
        action=passwords.SET_PASSWORD_PATH,
        min_length=MIN_PASSWORD_LENGTH,
        **values,
    )


def _refused(request: Request, exc: TokenRefused) -> Response:
    status, text = REFUSALS[exc.problem]
    return _page(request, status, page="refused", title=N_("Link not usable"), error=text)


async def _form(request: Request, token: str, error: str = "", status: int = 200) -> Response:
    """The form for an open `token` with a fresh CSRF token, or the page saying why it is not."""
    ctx: Context = request.app.state.ctx
    try:
        open_token = await passwords.check_token(ctx, token)
    except TokenRefused as exc:
        return _refused(request, exc)
    csrf = form_token(ctx.secret, token)
    return _page(
        request,
        status,
        page="form",
        title=N_("Choose your password"),
        token=token,
        login=open_token.login,
        csrf=csrf,
        error=error,
    )


async def set_password_page(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    if request.method != "POST":
        return await _form(request, request.query_params.get("token", ""))
    form = await request.form()
    fields = {k: v if isinstance(v, str) else "" for k, v in form.items()}
    token = fields.get("token", "")
    if not check_form_token(ctx.secret, token, fields.get("csrf", "")):
        return _page(request, 403, page="refused", title=N_("Form expired"), error=CSRF_REFUSAL)
    password, confirmation = fields.get("password", ""), fields.get("confirmation", "")
    try:
        login = await passwords.set_password(ctx, token, password, confirmation)
    except TokenRefused as exc:
        return _refused(request, exc)
    except PasswordRefused as exc:
        error = PASSWORD_REFUSALS.get(str(exc), str(exc))
        return await _form(request, token, error, status=400)
    return _page(request, 200, page="done", title=N_("Password set"), login=login)
