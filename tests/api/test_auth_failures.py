"""Failed authentications over the APIs: the delay asked for (recorded, never slept), the
/metrics counter, and the access log line that says `auth=failed` although API 9.0 answers
HTTP 200."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient
from structlog.testing import capture_logs

from hirondelle.app import create_app
from hirondelle.authfailures import AuthFailures
from hirondelle.context import Context
from tests.helpers import json_answer, make_account


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps(ctx: Context) -> Sleeps:
    recorded = Sleeps()
    ctx.auth_failures = AuthFailures(free=3, base=0.25, cap=5.0, sleep=recorded)
    return recorded


def failures_metric(client: TestClient) -> float:
    text = client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "hirondelle_auth_failures_total":
                return sample.value
    raise AssertionError(text)


def test_api_failures_are_delayed_counted_and_logged(
    client: TestClient, ctx: Context, sleeps: Sleeps
) -> None:
    alice = make_account(ctx, "alice", credits=50)
    with capture_logs() as logs:
        for _ in range(5):
            answer = client.get("/http/9.0/getInfo", params={"login": "alice", "apiKey": "bad"})
            assert "error" in json_answer(answer)
        rest = client.get("/account", auth=("alice", "bad"))
        assert rest.status_code == 401
    assert sleeps == [0.25, 0.5, 1.0]
    assert failures_metric(client) == 6
    lines = [line for line in logs if line["event"] == "request"]
    assert [(line["status"], line.get("auth")) for line in lines] == [
        *[(200, "failed")] * 5,
        (401, "failed"),
    ]
    # The owner, from another address, is not slowed down, and its line says nothing of auth.
    sleeps.clear()
    elsewhere = TestClient(create_app(ctx), client=("192.0.2.7", 4000))
    with elsewhere, capture_logs() as logs:
        assert json_answer(elsewhere.get("/http/9.0/getInfo", params=alice.params()))
    assert sleeps == []
    assert "auth" not in next(line for line in logs if line["event"] == "request")


def test_a_request_without_credentials_is_not_counted(client: TestClient, sleeps: Sleeps) -> None:
    for _ in range(5):
        client.get("/http/9.0/getInfo")
    assert failures_metric(client) == 0
