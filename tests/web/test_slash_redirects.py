"""Trailing-slash redirects are built from `public_url` (or host and port), never from the
request's `Host` header: `Host: evil.example` must not turn our links into redirects elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from hirondelle.app import create_app
from hirondelle.context import Context
from hirondelle.store import Store
from hirondelle.store.engine import create_engine
from tests.conftest import TEST_SECRET, make_settings

EVIL = {"host": "evil.example"}


@pytest.fixture
def public_client(sqlite_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(sqlite_url, tmp_path, public_url="https://sms.example.com/")
    ctx = Context(store=Store(create_engine(sqlite_url)), settings=settings, secret=TEST_SECRET)
    with TestClient(create_app(ctx)) as test_client:
        yield test_client
    ctx.close()


@pytest.mark.parametrize("path", ["/s/abcdefgh/", "/healthz/", "/account/set-password/"])
def test_slash_redirects_use_the_public_url(public_client: TestClient, path: str) -> None:
    response = public_client.get(path + "?x=1", headers=EVIL, follow_redirects=False)
    assert response.status_code in (301, 307, 308)
    assert response.headers["location"] == "https://sms.example.com" + path.rstrip("/") + "?x=1"


def test_without_public_url_the_base_url_is_used(client: TestClient, ctx: Context) -> None:
    response = client.get("/healthz/", headers=EVIL, follow_redirects=False)
    assert response.headers["location"] == ctx.settings.base_url + "/healthz"
    assert "evil" not in response.headers["location"]


def test_the_other_way_round_and_unknown_paths(client: TestClient, ctx: Context) -> None:
    response = client.get("/http/9.0/getInfo//", headers=EVIL, follow_redirects=False)
    assert "evil" not in response.headers.get("location", "")
    unknown = client.get("/nowhere/", headers=EVIL, follow_redirects=False)
    assert unknown.status_code == 404
