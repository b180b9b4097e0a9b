"""Structured logs: structlog set up once, and one line per HTTP request with its duration.

The access line carries the path but never the query string: API 9.0 puts the API key there.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson
import structlog
from starlette.types import Message, Receive, Scope, Send

from hirondelle.asgi import HttpMiddleware


def configure(log_format: str = "console", level: int = logging.INFO) -> None:
    """Console lines for people, JSON lines (orjson, written as bytes) for machines.

    Tracebacks are plain text in both: never the values of local variables (API keys, request
    parameters), which rich's tracebacks would show.
    """
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if log_format == "json":
        structlog.configure(
            processors=[
                *shared,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(serializer=orjson.dumps),
            ],
            wrapper_class=structlog.make_filtering_bound_logger(level),
            logger_factory=structlog.BytesLoggerFactory(sys.stderr.buffer),
            cache_logger_on_first_use=True,
        )
        return
    structlog.configure(
        processors=[
            *shared,
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            ),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


access_log = structlog.get_logger("hirondelle.access")


class AccessLogMiddleware(HttpMiddleware):
    """Plain ASGI middleware: log method, path, status and duration of each HTTP request."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            # A failed authentication says so (`auth=failed`): API 9.0 answers it with HTTP 200.
            auth = scope.get("state", {}).get("auth")
            access_log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 2),
                **({"auth": auth} if auth else {}),
            )
