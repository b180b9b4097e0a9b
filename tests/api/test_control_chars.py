"""Control characters (NUL and the other C0 controls but TAB, CR and LF) are refused at the
edge, in the method's own error format, on SQLite and PostgreSQL alike (PostgreSQL cannot store
NUL: it used to answer 500 and drop the connection); and no traceback carries SQL parameters."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
import sqlalchemy as sa
import structlog
from starlette.testclient import TestClient

from hirondelle import logs
from hirondelle.context import Context
from hirondelle.store.engine import create_engine
from hirondelle.store.schema import campaigns
from tests.conftest import count_rows
from tests.helpers import Creds, json_answer, make_account

FEED = '{"DATA": {"MESSAGE": "Hi", "SMS": [{"MOBILEPHONE": "0611111111"}]}}'


@pytest.fixture
def alice(ctx: Context) -> Creds:
    return make_account(ctx, "alice", credits=1000)


@pytest.mark.parametrize(
    ("method", "params", "expected"),
    [
        ("getInfo", {"login": "al\x00ice"}, {"error"}),
        ("getInfo", {"apiKey": "\x00"}, {"error"}),
        ("getAcks", {"campId": "12\x00"}, {"error"}),
        ("sendSms", {"smsData": FEED.replace("Hi", "H\x00i")}, {"status": 109}),
        ("sendSms", {"smsData": FEED.replace("Hi", "H\\u0000i")}, {"status": 109}),
        ("sendSms", {"smsData": FEED.replace("Hi", "H\\u001bi")}, {"status": 109}),
        ("sendSms", {"smsData": FEED, "x\x01": "y"}, {"status": 109}),
        ("simulateCampaign", {"smsData": FEED.replace("Hi", "H\x07i")}, {"status": 109}),
        ("createList", {"listData": '{"DATA": {"LISTNAME": "a\\u0000b"}}'}, {"status": 0}),
        ("deleteCampaign", {"campId": "\x00"}, {"status": "CAMPIDNOTFOUND"}),
    ],
)
def test_control_characters_are_refused(
    client: TestClient,
    ctx: Context,
    alice: Creds,
    method: str,
    params: dict[str, str],
    expected: set[str] | dict[str, Any],
) -> None:
    for transport in ("query", "body"):
        sent = {**alice.params(), **params}
        if transport == "query":
            answer = json_answer(client.get(f"/http/9.0/{method}", params=sent))
        else:
            answer = json_answer(client.post(f"/http/9.0/{method}", data=sent))
        if isinstance(expected, set):
            assert set(answer) == expected, answer
        else:
            assert expected.items() <= answer.items(), answer
    assert count_rows(ctx, campaigns) == 0


def test_line_breaks_and_tabs_are_text(client: TestClient, alice: Creds) -> None:
    feed = FEED.replace("Hi", "Hi\\r\\n\\tthere")
    answer = json_answer(client.post("/http/9.0/sendSms", data=alice.params(smsData=feed)))
    assert answer["status"] == 100
    message = "line one\r\nline\ttwo"
    answer = json_answer(
        client.post("/http/9.0/", data=alice.params(mobile="0611111111", message=message))
    )
    assert answer["status"] == 100


def test_rest_bodies_refuse_control_characters(client: TestClient, alice: Creds) -> None:
    for text in ("a\x00b", "a\x1bb"):
        response = client.post(
            "/sms/send/", json={"to": "0611111111", "text": text}, auth=(alice.login, alice.api_key)
        )
        assert response.status_code == 400, response.text


def test_sql_errors_do_not_carry_their_parameters(tmp_path: Any) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/x.db")
    with pytest.raises(sa.exc.DBAPIError) as caught, engine.connect() as conn:
        conn.execute(sa.text("SELECT * FROM nowhere WHERE key = :key"), {"key": "s3cret-key"})
    assert "s3cret-key" not in str(caught.value)
    engine.dispose()


def test_logged_tracebacks_show_no_local_values() -> None:
    out = io.StringIO()
    try:
        logs.configure("console")
        structlog.configure(logger_factory=structlog.PrintLoggerFactory(out))

        def authenticate(api_key: str) -> None:
            raise ValueError("bad")

        secret = "-".join(["s3cret", "key"])  # a value no source line shows
        try:
            authenticate(secret)
        except ValueError:
            structlog.get_logger("test").exception("failed")
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    assert "ValueError: bad" in out.getvalue()
    assert "s3cret-key" not in out.getvalue()
