"""The API documentation pages: `/api/docs` shows the REST API's OpenAPI document (`/openapi.json`)
in Swagger UI, vendored under `web/static/vendor/swagger-ui/`; `/api/docs/v9` is the API 9.0
reference, rendered from the catalogue the API console is built from too (domain/catalogue.py).

The pages load only files of this origin and run no inline script: their policy is
`default-src 'self'`, plus `data:` images (Swagger UI's stylesheet draws its icons with them).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from hirondelle.domain.catalogue import CATALOGUE
from hirondelle.web.pages import public_base_url, templates

OPENAPI_URL = "/openapi.json"

HEADERS = {
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
}


async def rest_docs(_request: Request) -> Response:
    return HTMLResponse(
        templates.get_template("api_docs.html").render(openapi_url=OPENAPI_URL), headers=HEADERS
    )


async def v9_reference(request: Request) -> Response:
    """The reference, its curl lines aimed at the site's public address."""
    base_url = public_base_url(request)
    html = templates.get_template("api_v9.html").render(catalogue=CATALOGUE, base_url=base_url)
    return HTMLResponse(html, headers=HEADERS)


def routes() -> list[BaseRoute]:
    return [
        Route("/api/docs", rest_docs),
        Route("/api/docs/v9", v9_reference),
    ]
