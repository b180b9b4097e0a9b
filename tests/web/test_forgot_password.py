"""Forgotten password: the sign-in form links to a form that emails a single-use link to the
set-password page — through a real SMTP server (aiosmtpd) — and answers the same whether or
not the login exists; at most three links per account and hour."""

from __future__ import annotations

import asyncio
import re

import pytest
from starlette.testclient import TestClient

from hirondelle.context import Context
from hirondelle.services.email import send_due_emails
from hirondelle.services.password_resets import RESETS_PER_HOUR
from hirondelle.store.schema import emails, password_tokens
from tests.conftest import count_rows
from tests.helpers import make_account
from tests.integration.test_email_smtp import Relay, relay  # noqa: F401 (a fixture)
from tests.web.test_account import csrf_of, sign_in, with_password

PATH = "/account/forgot-password"
LINK = re.compile(r"http://\S+/account/set-password\?token=[\w-]+")
ANSWER = "If this login has an email address, a link to choose a new password has been sent"


def ask(client: TestClient, login: str) -> str:
    form = client.get(PATH)
    answer = client.post(PATH, data={"login": login, "csrf": csrf_of(form.text)})
    assert answer.status_code == 200
    return answer.text


@pytest.fixture
def alice(ctx: Context) -> str:
    with_password(ctx, "alice")
    ctx.store.write_sync(
        lambda conn: conn.exec_driver_sql(
            "UPDATE accounts SET email = 'alice@example.com' WHERE login = 'alice'"
        )
    )
    return "alice"


def test_the_sign_in_form_links_to_the_forgotten_password_form(client: TestClient) -> None:
    assert f'href="{PATH}"' in client.get("/account/").text
    page = client.get(PATH)
    assert page.status_code == 200 and 'name="login"' in page.text and 'name="csrf"' in page.text
    french = client.get(PATH, headers={"accept-language": "fr"})
    assert "Mot de passe oublié" in french.text


def test_the_email_comes_through_smtp_and_its_link_sets_a_new_password(
    client: TestClient,
    ctx: Context,
    alice: str,
    relay: Relay,  # noqa: F811
) -> None:
    assert ANSWER in ask(client, alice)
    assert asyncio.run(send_due_emails(ctx)) == 1
    ((_sender, recipients, message),) = relay.messages
    assert recipients == ["alice@example.com"] and "alice" in message["Subject"]
    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = LINK.search(body)
    assert link is not None, body
    target = link.group(0).split("/account/", 1)[1]
    form = client.get("/account/" + target)
    assert form.status_code == 200 and "alice" in form.text
    token = target.split("token=", 1)[1]
    done = client.post(
        "/account/set-password",
        data={
            "token": token,
            "csrf": csrf_of(form.text),
            "password": "a brand new one",
            "confirmation": "a brand new one",
        },
    )
    assert done.status_code == 200 and "is set" in done.text
    assert client.get("/account/" + target).status_code == 410  # single use
    assert sign_in(client, alice, "a brand new one").status_code == 303  # type: ignore[attr-defined]


def test_the_answer_is_the_same_for_an_unknown_login(
    client: TestClient, ctx: Context, alice: str
) -> None:
    make_account(ctx, "nomail")  # exists, without an email address
    known = ask(client, alice)
    for login in ("nobody", "nomail", ""):
        assert ask(client, login).replace(login, "") == known.replace(alice, "")
    assert count_rows(ctx, emails) == 1 and count_rows(ctx, password_tokens) == 1


def test_at_most_three_links_an_hour(client: TestClient, ctx: Context, alice: str) -> None:
    for _ in range(RESETS_PER_HOUR + 2):
        assert ANSWER in ask(client, alice)
    assert count_rows(ctx, password_tokens) == RESETS_PER_HOUR


def test_a_form_without_its_csrf_token_is_refused(
    client: TestClient, ctx: Context, alice: str
) -> None:
    client.get(PATH)
    answer = client.post(PATH, data={"login": alice})
    assert answer.status_code == 403
    assert count_rows(ctx, password_tokens) == 0
