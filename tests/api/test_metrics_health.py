"""/healthz, /readyz with a store that cannot be reached, and /metrics counters after a send."""

from __future__ import annotations

import json
import time
from pathlib import Path

import sqlalchemy as sa
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from hirondelle.services.context import Context
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
        assert (answer.status_code, answer.json()) == (503, {"status": "unavailable"})
        assert client.get("/healthz").json() == {"status": "ok"}  # alive, only not ready
    finally:
        ctx.store.engine.dispose()
        ctx.store.engine = working
    assert client.get("/readyz").status_code == 200


def test_metrics_without_workers_is_empty_prometheus_text(client: TestClient) -> None:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == CONTENT_TYPE_LATEST
    assert "hirondelle_smpp" not in answer.text


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
