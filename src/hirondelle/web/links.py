"""`/s/<code>`: follow a short link (302 to its target), counting the click."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from hirondelle.context import Context
from hirondelle.services import links

_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


async def follow_short_link(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    code = request.path_params["code"]
    if request.method == "HEAD":  # link previews and monitors: answer, but count no click
        target = await links.target_of(ctx, code)
    else:
        target = await links.follow(ctx, code, request.headers.get("user-agent"))
    if target is None:
        return PlainTextResponse("Unknown short link\n", status_code=404, headers=_NO_STORE)
    return RedirectResponse(target, status_code=302, headers=_NO_STORE)
