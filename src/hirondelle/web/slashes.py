"""Trailing-slash redirects built from our own base URL.

Starlette's router redirects `/healthz/` to `/healthz` (and back) with a URL built from the
request's `Host` header, so `Host: evil.example` got `Location: http://evil.example/...`. This
does the same redirect from `settings.base_url` (`public_url`, else host and port) and hands every
other request to `default`, and every request that one of `default_routes` serves as it is: the
REST API's `/account` is not redirected to the customer area's `/account/`.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Match, Router
from starlette.types import ASGIApp, Receive, Scope, Send


class SlashRedirect:
    def __init__(
        self,
        router: Router,
        default: ASGIApp,
        base_url: str,
        default_routes: Sequence[BaseRoute] = (),
    ) -> None:
        router.redirect_slashes = False
        self.default_routes = default_routes
        self.router = router
        self.default = default
        self.base_url = base_url.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and path != "/" and not _matches(self.default_routes, scope):
            twin = path.rstrip("/") if path.endswith("/") else path + "/"
            twin_scope = {**scope, "path": twin}
            if _matches(self.router.routes, twin_scope):
                query = scope.get("query_string", b"").decode("latin-1")
                location = self.base_url + twin + (f"?{query}" if query else "")
                await RedirectResponse(location, status_code=307)(scope, receive, send)
                return
        await self.default(scope, receive, send)


def _matches(routes: Sequence[BaseRoute], scope: Scope) -> bool:
    return any(route.matches(scope)[0] is not Match.NONE for route in routes)
