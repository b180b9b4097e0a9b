"""The sub-account family of API 9.0 (manual §16–§20): createSubAccount, updateSubAccount,
getSubAccounts, manageSubAccountCredits and deleteSubAccount.

Their answers follow the manual's tables: annex 10 (`status` 0 error / 1 done, with `text`) for
creation and change, §19's table (0–5, with `statusText`) for credit transfers, 1/0 with
`statusText` for deletion. Statuses are JSON integers, as the send statuses are (DESIGN §5),
except the manual's `"OK"` for a transfer done. These methods name the sub-account themselves
(`subaccount`, `loginToDelete`), so they resolve it here and answer a wrong one in their own
format.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from hirondelle.api.v9 import feeds
from hirondelle.api.v9.methods import Call, Fields, MethodError, method
from hirondelle.domain.dates import format_local
from hirondelle.services import subaccounts
from hirondelle.services.accounts import AccountError, LoginTaken
from hirondelle.services.subaccounts import KNOWN_FIELDS, SubAccountDetails, TransferRefused

#: accountData tag (upper case) -> service field. The manual spells the email `E-MAIL` in §16 and
#: `EMAIL` in its samples; both are read. Other tags are ignored, as an allmysms client may send
#: the extra ones getSubAccounts shows (FAX, CLIENTTYPE...).
ACCOUNT_TAGS: dict[str, str] = {
    **{name.replace("_", "").upper(): name for name in KNOWN_FIELDS},
    "E-MAIL": "email",
    "BILLE-MAIL": "bill_email",
    "BILL_EMAIL": "bill_email",
}


#: getSubAccounts's billing keys, in the manual's order -> account column.
BILL_KEYS = {
    "billLastName": "bill_last_name",
    "billFirstName": "bill_first_name",
    "billCompany": "bill_society",
    "billPhone": "bill_phone",
    "billMobile": "bill_mobile",
    "billEmail": "bill_email",
    "billAddress": "bill_address",
    "billZip": "bill_zip",
    "billCity": "bill_city",
    "billCountry": "bill_country",
}


class CreditStatus(IntEnum):
    """The error statuses of manageSubAccountCredits (manual §19)."""

    NOT_LINKED = 0
    NO_SUBACCOUNT = 1
    NO_CREDITS = 2
    SUBSCRIPTION = 3
    SUB_SHORT = 4
    MASTER_SHORT = 5


CREDIT_TEXTS = {
    CreditStatus.NOT_LINKED: "The sub account is not linked to the master account",
    CreditStatus.NO_SUBACCOUNT: 'The "subaccount" parameter is not defined',
    CreditStatus.NO_CREDITS: 'The "credits" parameter is not defined',
    CreditStatus.SUBSCRIPTION: "The account is under subscription",
    CreditStatus.SUB_SHORT: "The sub account has insufficient funds",
    CreditStatus.MASTER_SHORT: "The master account does not have enough credits",
}
_REFUSALS = {
    "not_linked": CreditStatus.NOT_LINKED,
    "postpaid": CreditStatus.SUBSCRIPTION,
    "sub_short": CreditStatus.SUB_SHORT,
    "master_short": CreditStatus.MASTER_SHORT,
}


def status(code: int, text: str, key: str = "statusText") -> MethodError:
    """The `{"status": code, key: text}` answer of the methods with a status table."""
    return MethodError({"status": code, key: text})


def failed(text: str) -> MethodError:
    """Annex 10's status 0, with the reason."""
    return status(0, text, "text")


def bad_input(reason: str) -> Fields:
    return failed(reason).fields


def account_values(call: Call) -> dict[str, str]:
    """The accountData feed as service fields (annex 10 status 0 when unreadable)."""
    try:
        tree = feeds.parse_feed(call.param("accountData"))
    except feeds.EmptyFeed:
        raise failed("Missing or empty accountData") from None
    except feeds.InvalidFeed as exc:
        raise failed(f"accountData is not valid JSON or XML: {exc}") from None
    values: dict[str, str] = {}
    for tag, value in tree.items():
        name = ACCOUNT_TAGS.get(tag)
        if name is None:
            continue
        if not isinstance(value, str):
            raise failed(f"{tag} must be a single text value")
        values[name] = value
    return values


async def _account_change(call: Call, login: str | None) -> str:
    values = account_values(call)
    try:
        if login is None:
            await subaccounts.create_subaccount(call.ctx, call.caller, values)
            return "created"
        await subaccounts.update_subaccount(call.ctx, call.caller, login, values)
    except LoginTaken as exc:
        raise failed(f"The login {exc} is already taken") from None
    except AccountError as exc:
        raise failed(str(exc)) from None
    return "updated"


@method("createSubAccount", bad_input=bad_input, takes_subaccount=False, feed="accountData")
async def create_sub_account(call: Call) -> Fields:
    await _account_change(call, None)
    return {"status": 1, "text": "Sub-account successfully created"}


@method("updateSubAccount", bad_input=bad_input, takes_subaccount=False, feed="accountData")
async def update_sub_account(call: Call) -> Fields:
    login = call.param("subaccount")
    if login is None:
        raise failed("Missing parameter: subaccount (the login of the sub-account to change)")
    await _account_change(call, login)
    return {"status": 1, "text": "Sub-account successfully updated"}


def _details(sub: SubAccountDetails) -> Fields:
    f = sub.fields
    out: dict[str, Any] = {
        "login": sub.login,
        "lastName": f["last_name"],
        "firstName": f["first_name"],
        "clientType": "company" if f["society"] else "individual",
        "company": f["society"],
        "phone": f["phone"],
        "mobile": f["mobile"],
        "fax": "",
        "email": f["email"],
        "webSite": f["website"],
        "address": f["address"],
        "zip": f["zip"],
        "city": f["city"],
        "country": f["country"],
        "creationDate": format_local(sub.created_at, sub.timezone),
        "lastVisit": "",
        "lastActivity": "",
    }
    out.update({key: f[name] for key, name in BILL_KEYS.items()})
    out["credits"] = sub.balance
    return out


@method("getSubAccounts")
async def get_sub_accounts(call: Call) -> Fields:
    subs = await subaccounts.list_subaccounts(call.ctx, call.account.id)
    if not subs:
        raise status(0, "No subaccount found")
    return {"total": len(subs), "subaccounts": [_details(sub) for sub in subs]}


def _credits(value: str | None) -> int:
    if value is None:
        raise status(CreditStatus.NO_CREDITS, CREDIT_TEXTS[CreditStatus.NO_CREDITS])
    try:
        credits = int(value.strip())
    except ValueError:
        credits = 0
    if credits == 0 or abs(credits) > subaccounts.MAX_TRANSFER:
        raise status(
            CreditStatus.NO_CREDITS,
            f'The "credits" parameter must be a non-zero whole number, not {value!r}',
        )
    return credits


@method("manageSubAccountCredits", takes_subaccount=False)
async def manage_sub_account_credits(call: Call) -> Fields:
    login = call.param("subaccount")
    if login is None:
        raise status(CreditStatus.NO_SUBACCOUNT, CREDIT_TEXTS[CreditStatus.NO_SUBACCOUNT])
    credits = _credits(call.param("credits"))
    try:
        balance = await subaccounts.transfer_credits(call.ctx, call.caller, login, credits)
    except TransferRefused as exc:
        code = _REFUSALS[exc.reason]
        raise status(code, CREDIT_TEXTS[code]) from None
    sub = {"login": login, "credits": balance}
    # The manual shows one <subaccount> element in XML and a one-item array in JSON.
    return {"status": "OK", "subaccount": sub if call.format == "xml" else [sub]}


@method("deleteSubAccount", takes_subaccount=False)
async def delete_sub_account(call: Call) -> Fields:
    login = call.param("loginToDelete")
    if login is None:
        raise status(0, "Missing parameter: loginToDelete")
    try:
        await subaccounts.delete_subaccount(call.ctx, call.caller, login)
    except AccountError as exc:
        raise status(0, str(exc)) from None
    return {"status": 1, "statusText": "Sub-account has been successfully deleted"}
