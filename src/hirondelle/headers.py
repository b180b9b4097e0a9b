"""The safety headers every HTTP answer carries (DESIGN.md §5 "Safe bytes").

API 9.0 serves JSON as `text/html`, as the manual does; `nosniff` and a policy that allows nothing
make sure a browser that opens an answer never runs or loads anything from it. A page that needs
more (a form, its styles) sets its own Content-Security-Policy, which is kept.
"""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from hirondelle.asgi import HttpMiddleware

#: The policy of every answer that sets none: load nothing, run nothing, be framed by no one.
API_POLICY = "default-src 'none'; frame-ancestors 'none'"

SAFETY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", API_POLICY.encode()),
)


class SafetyHeadersMiddleware(HttpMiddleware):
    """Plain ASGI middleware: add each safety header an answer does not already have."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {bytes(name).lower() for name, _ in headers}
                headers += [pair for pair in SAFETY_HEADERS if pair[0] not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
