"""One HTTP request to this application, in-process: the console's way to call the APIs as the
signed-in account (services/console.py says why the scope carries the account).

The request goes through the whole application (middleware, routing, the API's own decoding),
exactly as one from the network would, but never through a socket: the scope is built here,
so only this code can add the console's scope key.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.types import Message

from hirondelle.services.accounts import Account
from hirondelle.services.console import SCOPE_KEY

#: Seconds an in-process call may take before the console gives up on it.
TIMEOUT = 30.0


@dataclass(frozen=True)
class InnerAnswer:
    status: int
    content_type: str
    body: bytes


async def call_as(
    request: Request,
    account: Account,
    verb: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes = b"",
) -> InnerAnswer:
    """`verb target` (a path with its query string) sent to the application serving `request`,
    authenticated as `account`."""
    path, _, query = target.partition("?")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": verb,
        "scheme": request.url.scheme,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers]
        + [(b"host", request.headers.get("host", "localhost").encode())]
        + [(b"content-length", str(len(body)).encode())],
        "client": request.scope.get("client"),
        "server": request.scope.get("server"),
        SCOPE_KEY: account,
    }
    sent = False
    status = 500
    content_type = ""
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status, content_type
        if message["type"] == "http.response.start":
            status = int(message["status"])
            for key, value in message.get("headers", []):
                if key.lower() == b"content-type":
                    content_type = value.decode("latin-1")
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await asyncio.wait_for(request.app(scope, receive, send), TIMEOUT)
    return InnerAnswer(status, content_type, b"".join(chunks))
