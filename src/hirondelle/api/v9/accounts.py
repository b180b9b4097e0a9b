"""Account methods of API 9.0: getInfo (manual §13)."""

from __future__ import annotations

from hirondelle.api.v9.methods import Call, Fields, method


@method("getInfo")
async def get_info(call: Call) -> Fields:
    account = call.account
    return {
        "status": "Active Account" if account.active else "Inactive Account",
        "credits": account.balance,
        "apiKey": call.api_key if account.id == call.caller.id else "",
        "lastName": account.last_name,
        "firstName": account.first_name,
        "society": account.society,
        "email": account.email,
    }
