"""Who is calling: HTTP Basic `login:apiKey`, checked in constant time by the accounts service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from hirondelle.api.rest.errors import unauthorized
from hirondelle.services import accounts
from hirondelle.services.accounts import Account
from hirondelle.services.context import Context

basic = HTTPBasic(
    auto_error=False,
    scheme_name="basicAuth",
    description="Your login as the user name and your API key as the password.",
)


def context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


Ctx = Annotated[Context, Depends(context)]


async def current_account(
    ctx: Ctx,
    request: Request,
    credentials: Annotated[HTTPBasicCredentials | None, Depends(basic)],
) -> Account:
    account = None
    if credentials is not None and "\x00" not in credentials.username + credentials.password:
        address = request.client.host if request.client else None
        login, api_key = credentials.username, credentials.password
        account = await accounts.authenticate(ctx, login, api_key, address)
    if account is None:
        request.state.auth = "failed"  # on the access log line
        raise unauthorized()
    return account


Caller = Annotated[Account, Depends(current_account)]
