"""The client's address behind trusted reverse proxies (setting `trusted_proxies`).

When the direct peer is a trusted proxy, `scope["client"]` becomes the address that
`X-Forwarded-For` names (`domain.networks.forwarded_client`: the right-most entry that is not
itself a trusted proxy), so that everything after this middleware — access logs, the brakes on
failed authentications, IP allow-lists, /metrics' loopback rule — sees the real client. From
any other peer the header is ignored: a client cannot choose its own address. uvicorn's own
proxy-header handling is turned off (server.py): this is the one place that reads the header.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from hirondelle.asgi import HttpMiddleware
from hirondelle.config import Settings
from hirondelle.domain.networks import forwarded_client, parse_networks

HEADER = b"x-forwarded-for"


class TrustedProxies(HttpMiddleware):
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        super().__init__(app)
        self.trusted = parse_networks(settings.trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.trusted and scope.get("client"):
            await self.http(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = scope["client"][0]
        values = [value.decode("latin-1") for name, value in scope["headers"] if name == HEADER]
        if values:
            client = forwarded_client(peer, ",".join(values), self.trusted)
            if client != peer:
                scope = {**scope, "client": (client, 0)}
        await self.app(scope, receive, send)
