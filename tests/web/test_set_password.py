"""`/account/set-password`: the form behind the welcome email's link, its CSRF token, and the
single-use, expiring token it consumes."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from starlette.testclient import TestClient

from hirondelle.context import Context
from hirondelle.services import passwords
from hirondelle.services.passwords import PasswordRefused, TokenRefused, issue_token
from hirondelle.store.accounts import find_by_login
from hirondelle.store.schema import password_tokens
from hirondelle.store.subaccounts import soft_delete
from hirondelle.web.passwords import FORM_MAX_AGE, form_token
from tests.helpers import make_account

PATH = "/account/set-password"
GOOD = "correct horse"


def account(ctx: Context, login: str = "newlogin") -> Any:
    return ctx.store.read_sync(lambda conn: find_by_login(conn, login, include_deleted=True))


def new_token(ctx: Context, login: str = "newlogin", *, age_hours: float = 0) -> str:
    account_id = account(ctx, login)["id"]
    now = datetime.now(UTC) - timedelta(hours=age_hours)
    return ctx.store.write_sync(lambda conn: issue_token(conn, ctx.secret, account_id, 72, now))


@pytest.fixture
def token(ctx: Context) -> str:
    make_account(ctx, "newlogin", credits=0)
    return new_token(ctx)


def post(client: TestClient, ctx: Context, token: str, **fields: str) -> Any:
    values = {"token": token, "csrf": form_token(ctx.secret, token)}
    values.update({"password": GOOD, "confirmation": GOOD})
    values.update(fields)
    return client.post(PATH, data={k: v for k, v in values.items() if v is not None})


def password_hash(ctx: Context) -> str | None:
    hashed: str | None = account(ctx)["password_hash"]
    return hashed


def assert_open(client: TestClient, token: str) -> None:
    assert client.get(PATH, params={"token": token}).status_code == 200


def test_the_link_shows_the_form_with_safe_headers(
    client: TestClient, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    page = client.get(PATH, params={"token": token})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    # The customer area's layout and stylesheet: no inline style, nothing but our own files.
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert "<style" not in page.text and "style=" not in page.text
    assert '<link rel="stylesheet" href="/static/hirondelle.css">' in page.text
    french = client.get(PATH, params={"token": token}, headers={"accept-language": "fr"})
    assert '<html lang="fr">' in french.text and "Choisissez votre mot de passe" in french.text
    assert '<html lang="en">' in page.text and "Choose your password" in page.text
    assert "newlogin" in page.text and 'name="csrf"' in page.text
    assert 'type="password" name="password"' in page.text and 'name="confirmation"' in page.text
    assert f'action="{PATH}"' in page.text  # the token travels in the body, not in the URL
    captured = capsys.readouterr()
    assert token not in captured.out + captured.err


def test_a_good_post_sets_the_password_once(
    client: TestClient, ctx: Context, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    done = post(client, ctx, token)
    assert done.status_code == 200, done.text
    assert "is set" in done.text and done.headers["cache-control"] == "no-store"
    hashed = password_hash(ctx)
    assert hashed is not None and hashed.startswith("$argon2")
    assert PasswordHasher().verify(hashed, GOOD)
    captured = capsys.readouterr()
    assert token not in captured.out + captured.err and GOOD not in captured.out + captured.err
    again = client.get(PATH, params={"token": token})
    assert again.status_code == 410 and "already been used" in again.text
    replay = post(client, ctx, token, password="another one", confirmation="another one")
    assert replay.status_code == 410
    assert password_hash(ctx) == hashed


def test_setting_the_password_retires_the_other_links(
    client: TestClient, ctx: Context, token: str
) -> None:
    other = new_token(ctx)
    assert post(client, ctx, token).status_code == 200
    assert client.get(PATH, params={"token": other}).status_code == 410


@pytest.mark.parametrize(
    "bad", ["", "nope", "x" * 500, "é" * 10, "A" * 43], ids=["empty", "short", "long", "utf8", "43"]
)
def test_bad_links_are_refused(client: TestClient, ctx: Context, token: str, bad: str) -> None:
    page = client.get(PATH, params={"token": bad})
    assert page.status_code == 400 and "not valid" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert post(client, ctx, bad).status_code == 400
    assert password_hash(ctx) is None
    assert client.get(PATH).status_code == 400


def test_an_expired_link_is_refused(client: TestClient, ctx: Context, token: str) -> None:
    old = new_token(ctx, age_hours=73)
    page = client.get(PATH, params={"token": old})
    assert page.status_code == 410 and "expired" in page.text
    assert post(client, ctx, old).status_code == 410
    assert password_hash(ctx) is None


def test_the_link_of_a_deleted_account_is_refused(
    client: TestClient, ctx: Context, token: str
) -> None:
    ctx.store.write_sync(lambda conn: soft_delete(conn, account(ctx)["id"]))
    assert client.get(PATH, params={"token": token}).status_code == 400
    assert post(client, ctx, token).status_code == 400


def tampered(value: str) -> str:
    return value[:-1] + ("1" if value.endswith("0") else "0")


CSRF_CASES: dict[str, Any] = {
    "missing": None,
    "empty": "",
    "garbage": "not-a-token",
    "tampered": lambda secret, token: tampered(form_token(secret, token)),
    "other link": lambda secret, token: form_token(secret, token + "x"),
    "other secret": lambda secret, token: form_token(b"another secret", token),
    "too old": lambda secret, token: form_token(secret, token, time.time() - FORM_MAX_AGE - 1),
    "from the future": lambda secret, token: form_token(secret, token, time.time() + 3600),
}


@pytest.mark.parametrize("case", CSRF_CASES, ids=list(CSRF_CASES))
def test_a_post_without_a_valid_csrf_token_changes_nothing(
    client: TestClient, ctx: Context, token: str, case: str
) -> None:
    value = CSRF_CASES[case]
    csrf = value(ctx.secret, token) if callable(value) else value
    page = post(client, ctx, token, csrf=csrf)
    assert page.status_code == 403 and "Open the link again" in page.text
    assert password_hash(ctx) is None
    assert_open(client, token)


@pytest.mark.parametrize(
    ("password", "confirmation", "message"),
    [
        ("correct horse", "correct horsE", "The two passwords are not the same"),
        ("12345", "12345", "at least 6 characters"),
        ("", "", "at least 6 characters"),
    ],
)
def test_bad_passwords_are_refused_with_a_clear_message(
    client: TestClient, ctx: Context, token: str, password: str, confirmation: str, message: str
) -> None:
    page = post(client, ctx, token, password=password, confirmation=confirmation)
    assert page.status_code == 400 and message in page.text
    assert 'name="password"' in page.text and 'name="csrf"' in page.text  # the form, again
    assert password_hash(ctx) is None
    assert_open(client, token)
    assert post(client, ctx, token).status_code == 200


def test_two_concurrent_uses_of_one_link_set_one_password(ctx: Context, token: str) -> None:
    async def both() -> list[Any]:
        return await asyncio.gather(
            passwords.set_password(ctx, token, "first one", "first one"),
            passwords.set_password(ctx, token, "second one", "second one"),
            return_exceptions=True,
        )

    results = asyncio.run(both())
    assert sorted(map(type, results), key=str) == sorted([str, TokenRefused], key=str)
    (refused,) = [r for r in results if isinstance(r, TokenRefused)]
    assert refused.problem == "used"
    query = sa.select(password_tokens.c.used_at)
    assert ctx.store.read_sync(lambda conn: conn.execute(query).scalar_one()) is not None


def test_the_service_checks_before_hashing(ctx: Context, token: str) -> None:
    with pytest.raises(PasswordRefused, match="not the same"):
        asyncio.run(passwords.set_password(ctx, token, "abcdef", "abcdeg"))
    with pytest.raises(TokenRefused):
        asyncio.run(passwords.set_password(ctx, "unknown-token", "abcdef", "abcdef"))
    assert asyncio.run(passwords.set_password(ctx, token, "abcdef", "abcdef")) == "newlogin"


def test_link_previews_do_not_use_the_link(client: TestClient, ctx: Context, token: str) -> None:
    for _ in range(3):  # mail scanners and previews fetch links: GET and HEAD consume nothing
        assert client.head(PATH, params={"token": token}).status_code == 200
        assert_open(client, token)
    assert post(client, ctx, token).status_code == 200
