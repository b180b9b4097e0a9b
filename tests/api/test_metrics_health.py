"""/healthz, /readyz with a store that cannot be reached, and /metrics counters after a send."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import sqlalchemy as sa
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from hirondelle.app import create_app
from hirondelle.config import ConnectorConfig
from hirondelle.context import Context
from tests.conftest import live_app, make_settings
from tests.helpers import json_answer, make_account


def test_readyz_is_503_when_the_store_cannot_be_reached(
    client: TestClient, ctx: Context, tmp_path: Path
) -> None:
    assert client.get("/readyz").json() == {"status": "ok"}
    (tmp_path / "not-a-folder").write_text("")
    working = ctx.store.engine
    ctx.store.engine = sa.create_engine(f"sqlite:///{tmp_path}/not-a-folder/store.db")
    try:
        answer = client.get("/readyz")
        unavailable = {"status": "unavailable", "reason": "the store does not answer"}
        assert (answer.status_code, answer.json()) == (503, unavailable)
        assert client.get("/healthz").json() == {"status": "ok"}  # alive, only not ready
    finally:
        ctx.store.engine.dispose()
        ctx.store.engine = working
    assert client.get("/readyz").status_code == 200


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return int(sock.getsockname()[1])


def test_readyz_is_503_while_no_connector_is_bound_after_the_grace(
    sqlite_url: str, tmp_path: Path
) -> None:
    down = ConnectorConfig(name="op1", host="127.0.0.1", port=closed_port(), system_id="me")
    for grace, expected in (
        (0.0, (503, {"status": "unavailable", "reason": "no SMPP connector is bound"})),
        (3600.0, (200, {"status": "ok"})),  # still starting: the connector has time to bind
    ):
        settings = make_settings(
            sqlite_url, tmp_path, workers=True, connectors=[down], readiness_grace=grace
        )
        with live_app(settings) as (_ctx, client):
            answer = client.get("/readyz")
            assert (answer.status_code, answer.json()) == expected


def test_readyz_is_200_once_the_simulator_is_bound(sqlite_url: str, tmp_path: Path) -> None:
    settings = make_settings(sqlite_url, tmp_path, workers=True, readiness_grace=0.0)
    with live_app(settings) as (_ctx, client):
        deadline = time.monotonic() + 10
        while (answer := client.get("/readyz")).status_code != 200:
            assert time.monotonic() < deadline, answer.json()
        assert answer.json() == {"status": "ok"}


def test_metrics_without_workers_is_empty_prometheus_text(client: TestClient) -> None:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == CONTENT_TYPE_LATEST
    assert "hirondelle_smpp" not in answer.text


def test_metrics_answer_loopback_clients_only(ctx: Context) -> None:
    app = create_app(ctx)
    with TestClient(app, client=("203.0.113.5", 40000)) as remote:
        answer = remote.get("/metrics")
        assert answer.status_code == 403
        assert "metrics_token" in answer.json()["error"]
    for loopback in ("127.0.0.1", "::1"):
        with TestClient(app, client=(loopback, 40000)) as local:
            assert local.get("/metrics").status_code == 200


def test_metrics_with_a_token_want_it_from_everyone(ctx: Context) -> None:
    ctx.settings.metrics_token = "sc4pe-me"
    app = create_app(ctx)
    for host in ("203.0.113.5", "127.0.0.1"):
        with TestClient(app, client=(host, 40000)) as client:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "sc4pe-me"}):
                answer = client.get("/metrics", headers=headers)
                assert answer.status_code == 401, headers
                assert answer.headers["www-authenticate"] == "Bearer"
            good = client.get("/metrics", headers={"Authorization": "Bearer sc4pe-me"})
            assert good.status_code == 200
            assert good.headers["content-type"] == CONTENT_TYPE_LATEST


def samples(client: TestClient) -> dict[str, float]:
    answer = client.get("/metrics")
    assert answer.headers["content-type"] == CONTENT_TYPE_LATEST
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
        if sample.labels == {"connector": "simulator"}
    }


def test_metrics_count_a_send_through_the_simulator(live: tuple[Context, TestClient]) -> None:
    ctx, client = live
    before = samples(client)
    assert before["hirondelle_smpp_submitted_total"] == 0
    creds = make_account(ctx)
    feed = {"DATA": {"MESSAGE": "Hi", "SMS": [{"MOBILEPHONE": "0611111111"}]}}
    sent = json_answer(
        client.post("/http/9.0/sendSms", data=creds.params(smsData=json.dumps(feed)))
    )
    assert sent["nbSms"] == 1
    deadline = time.monotonic() + 20
    while (now := samples(client))["hirondelle_smpp_receipts_total"] < 1:
        assert time.monotonic() < deadline, now
    assert now == {
        "hirondelle_smpp_submitted_total": 1,
        "hirondelle_smpp_acknowledged_total": 1,
        "hirondelle_smpp_rejected_total": 0,
        "hirondelle_smpp_throttled_total": 0,
        "hirondelle_smpp_timeouts_total": 0,
        "hirondelle_smpp_receipts_total": 1,
        "hirondelle_smpp_replies_total": 0,
        "hirondelle_smpp_in_flight": 0,
        "hirondelle_smpp_bound": 1,
    }
