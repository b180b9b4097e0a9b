"""How the API console calls the APIs as the signed-in account without its API key.

The key is stored only as a digest, so the console cannot put it in the request it sends. It
calls the application in-process instead (web/console.py builds the ASGI scope itself, never
through a socket) and puts the session's account in the scope under `SCOPE_KEY`. No HTTP client
can set a scope key: a server builds the scope from the request line and headers only, so a
request from the network never carries one. The APIs' authentication (api/v9/methods.py and
api/rest/auth.py) look there first: the account in the scope is the caller when the request's
login is that account's, whatever its key says (`console_caller`); any other login is refused
as bad credentials. A master may still act for its own sub-accounts (`subaccount`), as with
its key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hirondelle.services.accounts import Account

SCOPE_KEY = "hirondelle.console_account"


def console_account(scope: Mapping[str, Any]) -> Account | None:
    """The account an in-process console call is made for; None for any other request."""
    account = scope.get(SCOPE_KEY)
    return account if isinstance(account, Account) else None


def console_caller(console: Account, login: str | None) -> Account | None:
    """The caller of a console call: its account when `login` is that account's, else None."""
    return console if login == console.login else None
