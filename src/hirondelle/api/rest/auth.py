"""Who is calling: HTTP Basic `login:apiKey`, checked in constant time by the accounts service.

FastAPI reads and parses a request's body before it runs the dependencies, so `AuthFirst`
checks the credentials of a request with a body before that: a caller with a wrong key is
answered without the body being read. The account it found is what `current_account` gives.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from starlette.types import ASGIApp, Receive, Scope, Send

from hirondelle.api.rest.errors import (
    RestError,
    access_refused,
    rest_error_answer,
    unauthorized,
)
from hirondelle.context import Context
from hirondelle.services import access, accounts, console
from hirondelle.services.access import AccessRefused
from hirondelle.services.accounts import Account

basic = HTTPBasic(
    auto_error=False,
    scheme_name="basicAuth",
    description="Your login as the user name and your API key as the password.",
)


def context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


Ctx = Annotated[Context, Depends(context)]


async def _check(
    ctx: Context, request: Request, credentials: HTTPBasicCredentials | None
) -> Account:
    account = None
    address = request.client.host if request.client else None
    console_account = console.console_account(request.scope)
    if console_account is not None:  # the customer area's console, in-process (no key)
        login = credentials.username if credentials is not None else None
        account = console.console_caller(console_account, login)
    elif credentials is not None and "\x00" not in credentials.username + credentials.password:
        login, api_key = credentials.username, credentials.password
        account = await accounts.authenticate(ctx, login, api_key, address)
    if account is None:
        request.state.auth = "failed"  # on the access log line
        raise unauthorized()
    try:  # only the holder of the right key learns that its address is refused
        await access.admit_caller(ctx, account, address)
    except AccessRefused as exc:
        raise access_refused(exc) from None
    return account


async def current_account(
    ctx: Ctx,
    request: Request,
    credentials: Annotated[HTTPBasicCredentials | None, Depends(basic)],
) -> Account:
    known = getattr(request.state, "account", None)
    if isinstance(known, Account):  # AuthFirst checked it already
        return known
    return await _check(ctx, request, credentials)


Caller = Annotated[Account, Depends(current_account)]


class AuthFirst:
    """Plain ASGI middleware: see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            request = Request(scope)
            try:
                request.state.account = await _check(
                    context(request), request, await basic(request)
                )
            except RestError as exc:
                await rest_error_answer(exc)(scope, receive, send)
                return
        await self.app(scope, receive, send)
