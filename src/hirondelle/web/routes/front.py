"""`/`, the front door, and `/lang`, the language switch of every page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hirondelle.web import i18n
from hirondelle.web.pages import local_path, render

LANG_COOKIE_SECONDS = 365 * 24 * 3600


async def front_door(request: Request) -> Response:
    return render(request, "front.html")


async def set_language(request: Request) -> Response:
    """`/lang?set=fr&next=/account/`: remember the language in a cookie, go back to the page."""
    response = RedirectResponse(local_path(request.query_params.get("next")), 303)
    lang = request.query_params.get("set", "")
    if lang in i18n.LANGUAGES:
        response.set_cookie(
            i18n.COOKIE, lang, max_age=LANG_COOKIE_SECONDS, path="/", samesite="lax"
        )
    return response
