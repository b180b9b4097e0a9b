"""Trailing-slash redirects built from our own base URL.

Starlette's router redirects `/healthz/` to `/healthz` (and back) with a URL built from the
request's `Host` header, so `Host: evil.example` got `Location: http://evil.example/...`. This
does the same redirect from `settings.base_url` (`public_url`, else host and port) and hands every
other request to `default`.
"""

from __future__ import annotations

from starlette.responses import RedirectResponse
from starlette.routing import Match, Router
from starlette.types import ASGIApp, Receive, Scope, Send


class SlashRedirect:
    def __init__(self, router: Router, default: ASGIApp, base_url: str) -> None:
        router.redirect_slashes = False
        self.router = router
        self.default = default
        self.base_url = base_url.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and path != "/":
            twin = path.rstrip("/") if path.endswith("/") else path + "/"
            twin_scope = {**scope, "path": twin}
            if any(route.matches(twin_scope)[0] is not Match.NONE for route in self.router.routes):
                query = scope.get("query_string", b"").decode("latin-1")
                location = self.base_url + twin + (f"?{query}" if query else "")
                await RedirectResponse(location, status_code=307)(scope, receive, send)
                return
        await self.default(scope, receive, send)
