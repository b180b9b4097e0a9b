"""The sends answer from the process's recent authentications (services/accounts.py): a rotated
key, a deactivated account is refused by every process at most RECENT_AUTH_SECONDS later
(at once by the process that rotated it); a wrong key is never answered from them; the other
methods look the account up every time."""

from __future__ import annotations

import sqlalchemy as sa
from starlette.testclient import TestClient

from hirondelle.context import Context
from hirondelle.services.accounts import RECENT_AUTH_SECONDS, api_key_digest, rotate_api_key
from hirondelle.store.schema import accounts
from tests.helpers import Creds, json_answer, make_account


def sent_once(ctx: Context, client: TestClient, login: str) -> tuple[list[float], Creds]:
    """A new account that has just sent (so authenticated), and the clock of `ctx.ticks`."""
    now = [1000.0]
    ctx.ticks = lambda: now[0]
    creds = make_account(ctx, login, credits=1000)
    assert send(client, creds) == 100
    return now, creds


def send(client: TestClient, creds: Creds, api_key: str | None = None) -> int:
    params = {**creds.params(mobile="0612000001", message="Code 1234")}
    if api_key is not None:
        params["apiKey"] = api_key
    return int(json_answer(client.get("/http/9.0/", params=params))["status"])


def change_elsewhere(ctx: Context, login: str, **values: object) -> None:
    """What another process (the CLI, another web process) writes: this one hears nothing."""
    ctx.store.write_sync(
        lambda conn: conn.execute(sa.update(accounts).where(accounts.c.login == login), values)
    )


def test_a_deactivated_account_sends_until_the_recent_authentication_expires(
    ctx: Context, client: TestClient
) -> None:
    now, creds = sent_once(ctx, client, "alice")
    change_elsewhere(ctx, "alice", active=False)
    assert send(client, creds) == 100  # within the second: the authentication of just now
    now[0] += RECENT_AUTH_SECONDS
    assert send(client, creds) == 102
    change_elsewhere(ctx, "alice", active=True)
    assert send(client, creds) == 100  # a failure is never kept


def test_a_key_rotated_elsewhere_stops_working_within_the_delay(
    ctx: Context, client: TestClient
) -> None:
    now, creds = sent_once(ctx, client, "bob")
    change_elsewhere(ctx, "bob", api_key_digest=api_key_digest(ctx.secret, "the-new-key"))
    assert send(client, creds, api_key="the-new-key") == 100  # not the kept key: looked up
    now[0] += RECENT_AUTH_SECONDS / 2
    assert send(client, creds) == 102  # the new key's lookup replaced the old one's


def test_a_key_rotated_by_this_process_stops_at_once(ctx: Context, client: TestClient) -> None:
    _, creds = sent_once(ctx, client, "carol")
    new_key = client.portal.call(rotate_api_key, ctx, "carol")  # type: ignore[union-attr]
    assert send(client, creds) == 102
    assert send(client, creds, api_key=new_key) == 100


def test_a_wrong_key_is_never_answered_from_a_recent_authentication(
    ctx: Context, client: TestClient
) -> None:
    _, creds = sent_once(ctx, client, "dave")
    assert send(client, creds, api_key="0" * 32) == 102
    assert send(client, creds) == 100


def test_other_methods_look_the_account_up_every_time(ctx: Context, client: TestClient) -> None:
    _, creds = sent_once(ctx, client, "erin")
    credits = json_answer(client.get("/http/9.0/getInfo", params=creds.params()))
    assert credits["credits"] == 1000 - 15  # the balance now, not at the send's authentication
    change_elsewhere(ctx, "erin", active=False)
    refused = json_answer(client.get("/http/9.0/getInfo", params=creds.params()))
    assert "credits" not in refused
