"""The account over REST: `GET /account`, `GET` and `PUT /account/allowed-ips`."""

from __future__ import annotations

from fastapi import APIRouter, Request

from hirondelle.api.rest import errors
from hirondelle.api.rest.auth import Caller, Ctx
from hirondelle.api.rest.models import AccountAnswer, AllowedIpsAnswer, AllowedIpsRequest
from hirondelle.api.rest.routing import operation
from hirondelle.domain.pricing import UnknownCountry
from hirondelle.services import access
from hirondelle.services.accounts import AccountError

router = APIRouter(tags=["account"])

#: `nbSms` counts one-part SMS to this country.
REFERENCE_COUNTRY = "FR"


@operation(
    router,
    "GET",
    "/account",
    AccountAnswer,
    errors.COMMON_ERRORS,
    "Balance and details of the account",
)
async def get_account(ctx: Ctx, account: Caller) -> AccountAnswer:
    try:
        per_sms = ctx.prices.credits_per_part(REFERENCE_COUNTRY)
    except UnknownCountry:
        per_sms = 0
    return AccountAnswer(
        code=200,
        description="Active account",
        balance=account.balance,
        nbSms=max(account.balance, 0) // per_sms if per_sms > 0 else 0,
        email=account.email,
        company=account.society,
    )


def _allowed_ips_answer(networks: list[str]) -> AllowedIpsAnswer:
    description = (
        f"{len(networks)} allowed address(es) or range(s)" if networks else "Allowed from anywhere"
    )
    return AllowedIpsAnswer(code=200, description=description, allowedIps=networks)


@operation(
    router,
    "GET",
    "/account/allowed-ips",
    AllowedIpsAnswer,
    errors.COMMON_ERRORS,
    "Where the account may be used from (IP allow-list)",
)
async def get_allowed_ips(ctx: Ctx, account: Caller) -> AllowedIpsAnswer:
    return _allowed_ips_answer(await access.allowed_ips(ctx, account.login))


@operation(
    router,
    "PUT",
    "/account/allowed-ips",
    AllowedIpsAnswer,
    errors.COMMON_ERRORS,
    "Replace the IP allow-list of the account",
)
async def put_allowed_ips(
    ctx: Ctx, account: Caller, request: Request, body: AllowedIpsRequest
) -> AllowedIpsAnswer:
    """Replace the whole list. A list that would not allow the address of this very request is
    refused (400): the account would lock itself out of the API."""
    address = request.client.host if request.client else ""
    try:
        networks = await access.change_allowed_ips(
            ctx, account.login, replace=body.allowedIps, keep_reachable=address
        )
    except AccountError as exc:
        raise errors.RestError(400, 400, str(exc)) from None
    return _allowed_ips_answer(networks)
