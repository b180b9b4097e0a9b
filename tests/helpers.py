"""Helpers shared by tests: accounts with known keys, answer decoding."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from lxml import etree

from hirondelle.context import Context
from hirondelle.services import accounts


@dataclass(frozen=True)
class Creds:
    login: str
    api_key: str

    def params(self, **extra: Any) -> dict[str, Any]:
        return {"login": self.login, "apiKey": self.api_key, **extra}


def make_account(ctx: Context, login: str = "alice", credits: int = 1000, **fields: Any) -> Creds:
    new = ctx.store.write_sync(
        lambda conn: accounts.insert_with_key(
            conn, ctx.secret, {"login": login, "timezone": "Europe/Paris", **fields}, credits
        )
    )
    return Creds(login, new.api_key)


def json_answer(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return orjson.loads(response.content)


def xml_answer(response: Any) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    return etree.fromstring(response.content)
