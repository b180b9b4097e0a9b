"""The parts under the customer area's pages: the language choice, the catalogues, the day the
dashboard counts, idle sessions, and where a redirect may go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from hirondelle.context import Context
from hirondelle.services import web_sessions
from hirondelle.services.dashboard import day_bounds
from hirondelle.store.schema import web_sessions as session_table
from hirondelle.web import i18n
from hirondelle.web.pages import local_path
from tests.web.test_account import PASSWORD, with_password


@pytest.mark.parametrize(
    ("cookie", "header", "expected"),
    [
        (None, "", "en"),
        (None, "fr-FR,fr;q=0.9,en;q=0.8", "fr"),
        (None, "de-DE,en;q=0.5,fr;q=0.7", "fr"),
        (None, "en-US,fr;q=0.9", "en"),
        (None, "fr;q=0", "en"),
        (None, "fr;q=bad,en;q=0.1", "en"),
        ("fr", "en", "fr"),
        ("de", "fr", "fr"),
    ],
)
def test_the_language_of_a_page(cookie: str | None, header: str, expected: str) -> None:
    assert i18n.choose(cookie, header) == expected


def test_the_day_is_the_account_s_own_midnight_to_midnight() -> None:
    start, end = day_bounds(datetime(2026, 7, 1, 22, 30, tzinfo=UTC), "Europe/Paris")
    assert (start, end) == (
        datetime(2026, 7, 1, 22, 0, tzinfo=UTC),
        datetime(2026, 7, 2, 22, 0, tzinfo=UTC),
    )
    # The day clocks go back lasts 25 hours.
    start, end = day_bounds(datetime(2026, 10, 25, 12, 0, tzinfo=UTC), "Europe/Paris")
    assert end - start == timedelta(hours=25)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/account/", "/account/"),
        ("/account/?x=1", "/account/?x=1"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_redirects_stay_on_the_site(target: str | None, expected: str) -> None:
    assert local_path(target) == expected


@pytest.mark.anyio
async def test_an_idle_session_is_over(ctx: Context) -> None:
    with_password(ctx, "alice")
    session_id = await web_sessions.sign_in(ctx, "alice", PASSWORD, "192.0.2.1")
    assert session_id is not None
    signed_in = await web_sessions.current(ctx, session_id)
    assert signed_in is not None and signed_in.account.login == "alice"
    long_ago = datetime.now(UTC) - timedelta(seconds=web_sessions.IDLE_SECONDS + 1)
    await ctx.store.write(
        lambda conn: conn.execute(sa.update(session_table).values(last_seen_at=long_ago))
    )
    assert await web_sessions.current(ctx, session_id) is None
    assert await web_sessions.current(ctx, "x" * 500) is None


@pytest.mark.anyio
async def test_a_deactivated_account_loses_its_sessions(ctx: Context) -> None:
    from hirondelle.store.schema import accounts

    with_password(ctx, "alice")
    session_id = await web_sessions.sign_in(ctx, "alice", PASSWORD, None)
    await ctx.store.write(lambda conn: conn.execute(sa.update(accounts).values(active=False)))
    assert await web_sessions.current(ctx, session_id) is None
    assert await web_sessions.sign_in(ctx, "alice", PASSWORD, None) is None
