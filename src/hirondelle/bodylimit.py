"""Request bodies are limited while they stream, before anything parses them.

A declared Content-Length over the limit is refused at once; a body that goes over the limit
while it arrives (chunked, or a lying Content-Length) is refused as soon as it does, without
reading the rest: the 413 is sent right then with `Connection: close`, and whatever the
application was doing with the body is abandoned. Each path has its limit (`limit_of`), and the
413 answers in the format of the API the path belongs to (`refusal`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hirondelle.asgi import HttpMiddleware
from hirondelle.config import Settings

TOO_LARGE = "The request body is too large"

#: Paths that take feeds of many recipients or contacts (the customer area's send form too, with
#: its imported file): they get `max_feed_body_bytes`.
FEED_PATHS = re.compile(
    r"^(/http/9\.0/(sendsms|simulatecampaign|populatelist)|/sms/send/bulk|/account/send)/?$",
    re.IGNORECASE,
)
#: The customer area's file imports (a blacklist, a contact list): the feed limit too.
IMPORT_PATHS = re.compile(r"^/account/(blacklist/import|lists/.+)$")


class BodyTooLarge(Exception):
    """Raised into the application when its body went over the limit (the 413 is sent)."""


def limits_of(settings: Settings) -> Callable[[str], int]:
    def limit_of(path: str) -> int:
        if FEED_PATHS.match(path) or IMPORT_PATHS.match(path):
            return settings.max_feed_body_bytes
        return settings.max_body_bytes

    return limit_of


def refusal(path: str, json_type: str) -> Response:
    """API 9.0's `{"error": ...}`; elsewhere the REST API's `{"code": 413, "description": ...}`."""
    close = {"connection": "close"}
    if path.lower().startswith("/http/9.0"):
        return JSONResponse({"error": TOO_LARGE}, 413, headers=close, media_type=json_type)
    return JSONResponse({"code": 413, "description": TOO_LARGE}, 413, headers=close)


def _body_framing(scope: Scope) -> str | None:
    """The declared Content-Length ("" when the body is chunked), or None when the request
    declares no body: a GET or HEAD of HTTP/1.1 without either header has none, and most requests
    are such GETs, which then skip the counting."""
    framing: str | None = None
    for name, value in scope["headers"]:
        if name == b"content-length":
            return bytes(value).decode("latin-1")
        if name == b"transfer-encoding":
            framing = ""
    return framing


class BodyLimit(HttpMiddleware):
    """Plain ASGI middleware: see the module docstring."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        super().__init__(app)
        self.limit_of = limits_of(settings)
        self.json_type = settings.json_content_type

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        framing = _body_framing(scope)
        if framing is None and scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)  # no Content-Length, no Transfer-Encoding
            return
        path: str = scope["path"]
        limit = self.limit_of(path)
        declared = framing or ""
        if declared.isdigit() and int(declared) > limit:
            await refusal(path, self.json_type)(scope, receive, send)
            return
        received = 0
        started = refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit and not refused:
                refused = True
                if not started:
                    await refusal(path, self.json_type)(scope, receive, send)
                raise BodyTooLarge(path)
            return message

        async def send_unless_refused(message: Message) -> None:
            nonlocal started
            if not refused:
                started = True
                await send(message)

        try:
            await self.app(scope, limited_receive, send_unless_refused)
        except ClientDisconnect:
            pass  # gone (or closed by httpguard's read timeout) mid-body: no one to answer
        except Exception:
            if not refused:
                raise
