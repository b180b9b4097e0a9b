"""`/account/set-password?token=…`: the page a new sub-account's welcome email links to.

GET shows the form when the token is open (400 for an unknown link, 410 for a used or expired
one); POST checks the form's CSRF token, then sets the password and consumes the link. The
set-password token never reaches a log (the access log drops query strings), a cache or a
Referer header.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from hirondelle.context import Context
from hirondelle.services import passwords
from hirondelle.services.accounts import MIN_PASSWORD_LENGTH
from hirondelle.services.passwords import PasswordRefused, TokenRefused
from hirondelle.web.templating import render

#: Seconds a rendered form may wait before it is submitted (and tolerated clock skew).
FORM_MAX_AGE = 3600
CLOCK_SKEW = 60

HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}

REFUSALS: dict[str, tuple[int, str]] = {
    "unknown": (400, "This link is not valid. Check that it was copied whole from the email."),
    "used": (
        410,
        "This link has already been used: the password is set. Ask your account "
        "manager for a new link if you need to change it.",
    ),
    "expired": (410, "This link has expired. Ask your account manager for a new one."),
}
CSRF_REFUSAL = "This form has expired or did not come from this page. Open the link again."


def form_token(secret: bytes, token: str, now: float | None = None) -> str:
    """The CSRF token of a form for `token`: a timestamp and its HMAC with the link's token."""
    stamp = str(int(now if now is not None else time.time()))
    return f"{stamp}.{_form_mac(secret, token, stamp)}"


def check_form_token(secret: bytes, token: str, value: str, now: float | None = None) -> bool:
    stamp, _, mac = value.partition(".")
    if not stamp.isdigit() or len(stamp) > 12:
        return False
    age = (now if now is not None else time.time()) - int(stamp)
    if not -CLOCK_SKEW <= age <= FORM_MAX_AGE:
        return False
    return hmac.compare_digest(mac.encode(), _form_mac(secret, token, stamp).encode())


def _form_mac(secret: bytes, token: str, stamp: str) -> str:
    message = b"set-password-form\0" + token.encode() + b"\0" + stamp.encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _page(status: int, **values: Any) -> Response:
    html = render(
        "set_password.html",
        action=passwords.SET_PASSWORD_PATH,
        min_length=MIN_PASSWORD_LENGTH,
        **values,
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _refused(exc: TokenRefused) -> Response:
    status, text = REFUSALS[exc.problem]
    return _page(status, page="refused", title="Link not usable", error=text)


async def _form(ctx: Context, token: str, error: str = "", status: int = 200) -> Response:
    """The form for an open `token` with a fresh CSRF token, or the page saying why it is not."""
    try:
        open_token = await passwords.check_token(ctx, token)
    except TokenRefused as exc:
        return _refused(exc)
    csrf = form_token(ctx.secret, token)
    return _page(
        status,
        page="form",
        title="Choose your password",
        token=token,
        login=open_token.login,
        csrf=csrf,
        error=error,
    )


async def set_password_page(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    if request.method != "POST":
        return await _form(ctx, request.query_params.get("token", ""))
    form = await request.form()
    fields = {k: v if isinstance(v, str) else "" for k, v in form.items()}
    token = fields.get("token", "")
    if not check_form_token(ctx.secret, token, fields.get("csrf", "")):
        return _page(403, page="refused", title="Form expired", error=CSRF_REFUSAL)
    password, confirmation = fields.get("password", ""), fields.get("confirmation", "")
    try:
        login = await passwords.set_password(ctx, token, password, confirmation)
    except TokenRefused as exc:
        return _refused(exc)
    except PasswordRefused as exc:
        return await _form(ctx, token, str(exc), status=400)
    return _page(200, page="done", title="Password set", login=login)
