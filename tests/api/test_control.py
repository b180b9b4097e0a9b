"""/metrics and the simulator control endpoint behind `hirondelle sim mo`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from hirondelle.app import create_app
from hirondelle.context import Context
from hirondelle.store.schema import replies
from tests.conftest import live_app, make_settings


@pytest.fixture
def live_client(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[Context, TestClient]]:
    with live_app(make_settings(sqlite_url, tmp_path, workers=True)) as running:
        yield running


def test_metrics_per_connector(live_client: tuple[Context, TestClient]) -> None:
    _ctx, client = live_client
    text = client.get("/metrics").text
    assert 'hirondelle_smpp_submitted_total{connector="simulator"} 0.0' in text
    assert "# TYPE hirondelle_smpp_bound gauge" in text


def test_inject_mo_reaches_the_store(live_client: tuple[Context, TestClient]) -> None:
    ctx, client = live_client
    answer = client.post("/_sim/mo", json={"from": "+33612345678", "text": "Hello"})
    assert answer.status_code == 200
    assert answer.json()["to"] == "36180"
    for _ in range(200):
        rows = ctx.store.read_sync(
            lambda conn: conn.execute(sa.select(replies.c.phone, replies.c.text)).all()
        )
        if rows:
            break
        client.get("/healthz")  # let the app's loop run
    assert [tuple(r) for r in rows] == [("33612345678", "Hello")]


def test_inject_mo_rejects_bad_bodies(live_client: tuple[Context, TestClient]) -> None:
    _ctx, client = live_client
    assert client.post("/_sim/mo", content=b"not json").status_code == 400
    assert client.post("/_sim/mo", json={"text": "x"}).status_code == 400


def test_inject_mo_needs_an_embedded_simulator(client: TestClient) -> None:
    assert client.post("/_sim/mo", json={"from": "1", "text": "x"}).status_code == 404


def test_inject_mo_answers_loopback_only(live_client: tuple[Context, TestClient]) -> None:
    ctx, _client = live_client
    with TestClient(create_app(ctx), client=("192.0.2.10", 5000)) as remote:
        assert remote.post("/_sim/mo", json={"from": "1", "text": "x"}).status_code == 403
