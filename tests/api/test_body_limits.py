"""Request bodies are limited per path while they stream (413 in each API's format), and API
9.0 checks credentials given in the query string before it reads a body."""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass
from urllib.parse import urlencode

import orjson
import pytest
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message

from hirondelle.api.v9 import feeds
from hirondelle.app import create_app
from hirondelle.bodylimit import TOO_LARGE
from hirondelle.context import Context
from tests.helpers import Creds, json_answer, make_account

CHUNK = 64 * 1024


@dataclass
class Exchange:
    """One request driven straight through the ASGI app, counting the body chunks it read."""

    status: int = 0
    body: bytes = b""
    chunks_read: int = 0


async def exchange(
    app: ASGIApp,
    path: str,
    query: str,
    chunks: list[bytes],
    headers: tuple[tuple[bytes, bytes], ...] = (),
) -> Exchange:
    result = Exchange()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [*headers, (b"content-type", b"application/x-www-form-urlencoded")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }

    async def receive() -> Message:
        if result.chunks_read == len(chunks):
            return {"type": "http.disconnect"}
        result.chunks_read += 1
        more = result.chunks_read < len(chunks)
        return {"type": "http.request", "body": chunks[result.chunks_read - 1], "more_body": more}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            result.status = message["status"]
        else:
            result.body += message.get("body", b"")

    await app(scope, receive, send)
    return result


@pytest.fixture
def alice(ctx: Context) -> Creds:
    return make_account(ctx, "alice", credits=1000)


def assert_v9_too_large(response: object) -> None:
    assert response.status_code == 413  # type: ignore[attr-defined]
    assert orjson.loads(response.content) == {"error": TOO_LARGE}  # type: ignore[attr-defined]
    assert response.headers["connection"] == "close"  # type: ignore[attr-defined]


def test_a_declared_length_over_the_limit_is_refused_at_once(
    client: TestClient, ctx: Context, alice: Creds
) -> None:
    body = b"a=&" * (ctx.settings.max_body_bytes // 3 + 1)
    response = client.post("/http/9.0/getInfo", params=alice.params(), content=body)
    assert_v9_too_large(response)


@pytest.mark.anyio
async def test_a_streamed_body_is_refused_before_it_is_all_read(ctx: Context, alice: Creds) -> None:
    chunks = [b"a=&" * (CHUNK // 3)] * 1000  # 64 MB, no Content-Length
    query = urlencode(alice.params())
    result = await exchange(create_app(ctx), "/http/9.0/getInfo", query, chunks)
    assert (result.status, orjson.loads(result.body)) == (413, {"error": TOO_LARGE})
    assert result.chunks_read == ctx.settings.max_body_bytes // CHUNK + 1


def test_a_chunked_body_over_the_limit(client: TestClient, ctx: Context, alice: Creds) -> None:
    chunks = iter([b"a=&" * (CHUNK // 3)] * (ctx.settings.max_body_bytes // CHUNK + 1))
    assert_v9_too_large(client.post("/http/9.0/getInfo", params=alice.params(), content=chunks))


def test_feed_paths_take_larger_bodies(client: TestClient, ctx: Context, alice: Creds) -> None:
    padding = b"x" * (ctx.settings.max_body_bytes + 1)
    feed = b'smsData={"DATA":{"MESSAGE":"Hi","SMS":[{"MOBILEPHONE":"0611111111"}]}}&pad=' + padding
    for path in ("/http/9.0/simulateCampaign", "/http/9.0/SENDSMS/"):
        answer = json_answer(client.post(path, params=alice.params(), content=feed))
        assert answer["status"] == 100, answer
    too_big = b"a=&" * (ctx.settings.max_feed_body_bytes // 3 + 1)
    response = client.post("/http/9.0/sendSms", params=alice.params(), content=too_big)
    assert_v9_too_large(response)


def test_the_rest_api_answers_its_own_413(client: TestClient, ctx: Context, alice: Creds) -> None:
    body = b'{"to": "0611111111", "text": "' + b"x" * ctx.settings.max_body_bytes + b'"}'
    response = client.post("/sms/send/", content=body, auth=(alice.login, alice.api_key))
    assert response.status_code == 413
    assert response.json() == {"code": 413, "description": TOO_LARGE}


@pytest.mark.anyio
async def test_wrong_query_credentials_are_answered_before_the_body_is_read(
    ctx: Context, alice: Creds
) -> None:
    query = urlencode({"login": alice.login, "apiKey": "wrong"})
    chunks = [b"smsData=x&", b"a=&" * (CHUNK // 3)]
    result = await exchange(create_app(ctx), "/http/9.0/sendSms", query, chunks)
    assert (result.status, orjson.loads(result.body)["status"]) == (200, 102)  # bad credentials
    assert result.chunks_read == 0
    good = await exchange(create_app(ctx), "/http/9.0/getInfo", urlencode(alice.params()), chunks)
    assert (good.status, good.chunks_read) == (200, 2)


def test_credentials_in_the_body_still_work(client: TestClient, alice: Creds) -> None:
    answer = json_answer(client.post("/http/9.0/getInfo", data=alice.params()))
    assert answer["credits"] == 1000


@pytest.mark.anyio
async def test_large_feeds_are_decoded_off_the_event_loop() -> None:
    loop_thread = threading.get_ident()
    threads: list[int] = []

    def decode(feed: str | None) -> int:
        threads.append(threading.get_ident())
        return len(feed or "")

    assert await feeds.off_loop(decode, "x" * 100) == 100
    assert await feeds.off_loop(decode, "x" * (feeds.OFF_LOOP_CHARS + 1)) > feeds.OFF_LOOP_CHARS
    assert threads[0] == loop_thread and threads[1] != loop_thread


def test_too_many_parameters(client: TestClient, alice: Creds) -> None:
    body = "&".join(f"p{n}=1" for n in range(1001))
    for answer in (
        client.post("/http/9.0/getInfo", params=alice.params(), content=body),
        client.get(f"/http/9.0/getInfo?{body}"),
        client.post(
            "/http/9.0/getInfo",
            params=alice.params(),
            files={f"p{n}": (None, "1") for n in range(1001)},
        ),
    ):
        assert json_answer(answer) == {"error": "Too many parameters (at most 1000)"}
    fine = "&".join(f"p{n}=1" for n in range(900))
    answer = client.post("/http/9.0/getInfo", params=alice.params(), content=fine)
    assert json_answer(answer)["credits"] == 1000


@pytest.mark.anyio
async def test_rest_credentials_are_checked_before_the_body_is_read(
    ctx: Context, alice: Creds
) -> None:
    chunks = [b'{"to": ["0611111111"], ', b'"text": "Hi"', b"}"]
    for key, status, read in (("wrong", 401, 0), (alice.api_key, 201, 3)):
        token = base64.b64encode(f"{alice.login}:{key}".encode())
        headers = ((b"authorization", b"Basic " + token), (b"content-type", b"application/json"))
        result = await exchange(create_app(ctx), "/sms/send/bulk", "", chunks, headers)
        assert (result.status, result.chunks_read) == (status, read), result.body


def test_a_get_with_a_body_is_counted_too(client: TestClient, ctx: Context, alice: Creds) -> None:
    """GET and HEAD without framing headers skip the counting; a GET that declares a body over
    the limit is still refused before anything reads it (a chunked one is never read by a GET
    method: its body is left unread, not counted)."""
    big = b"a=&" * (ctx.settings.max_body_bytes // 3 + 1)
    declared = client.request("GET", "/http/9.0/getInfo", params=alice.params(), content=big)
    assert_v9_too_large(declared)
    assert client.get("/http/9.0/getInfo", params=alice.params()).json()["credits"] >= 0
