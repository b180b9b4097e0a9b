"""The account over REST: `GET /account`."""

from __future__ import annotations

from fastapi import APIRouter

from hirondelle.api.rest import errors
from hirondelle.api.rest.auth import Caller, Ctx
from hirondelle.api.rest.models import AccountAnswer
from hirondelle.api.rest.routing import operation
from hirondelle.domain.pricing import UnknownCountry

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
