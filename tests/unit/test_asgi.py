"""The base of our ASGI middleware: HTTP is the subclass's, anything else passes through."""

from __future__ import annotations

import pytest
from starlette.types import Message, Receive, Scope, Send

from hirondelle.asgi import HttpMiddleware

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Tagging(HttpMiddleware):
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app({**scope, "tagged": True}, receive, send)


async def test_http_goes_to_the_subclass_and_the_rest_passes_through() -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        pass

    middleware = Tagging(app)
    await middleware({"type": "lifespan"}, receive, send)
    await middleware({"type": "http", "path": "/"}, receive, send)
    assert seen == [{"type": "lifespan"}, {"type": "http", "path": "/", "tagged": True}]
