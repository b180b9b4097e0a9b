"""The session cookie of the customer area: it holds only the random id of a session kept in the
store (services/web_sessions.py); HttpOnly, SameSite=Lax, and Secure when the site is served
over TLS."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import Response

from hirondelle.context import Context
from hirondelle.services import web_sessions
from hirondelle.services.web_sessions import WebSession

COOKIE = "hir_session"
#: A random value the sign-in form's CSRF token is bound to (there is no session yet).
SIGN_IN_COOKIE = "hir_signin"


def secure(request: Request) -> bool:
    ctx: Context = request.app.state.ctx
    return request.url.scheme == "https" or ctx.settings.base_url.startswith("https://")


def set_cookie(
    request: Request, response: Response, name: str, value: str, path: str = "/"
) -> None:
    response.set_cookie(
        name, value, path=path, httponly=True, samesite="lax", secure=secure(request)
    )


def forget_cookie(request: Request, response: Response, name: str, path: str = "/") -> None:
    response.delete_cookie(name, path=path, httponly=True, samesite="lax", secure=secure(request))


async def signed_in(request: Request) -> WebSession | None:
    ctx: Context = request.app.state.ctx
    return await web_sessions.current(ctx, request.cookies.get(COOKIE))


def sign_in_nonce(request: Request) -> tuple[str, bool]:
    """The browser's sign-in cookie value, and whether it is new (to be set on the answer)."""
    value = request.cookies.get(SIGN_IN_COOKIE, "")
    if 20 <= len(value) <= 64 and value.isascii():
        return value, False
    return secrets.token_urlsafe(24), True
