"""The allmysms REST API (JSON, HTTP Basic auth) as a FastAPI application, with its OpenAPI 3.1
document at `/openapi.json`. `docs/rest-api.md` describes it for people."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from hirondelle.api.rest import accounts, errors, reports, sending
from hirondelle.api.rest.auth import AuthFirst
from hirondelle.context import Context

DESCRIPTION = """\
The allmysms REST API: JSON in and out, HTTP Basic authentication with your login and API key.
Errors are non-2xx answers `{"code": <int>, "description": "..."}`, where `code` is the send
status (110, 114, ...) when one applies and the HTTP status otherwise. A trailing slash on any
path is optional."""


def create_app(ctx: Context) -> FastAPI:
    app = FastAPI(
        title="Hirondelle REST API",
        version="1",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        redirect_slashes=False,
        strict_content_type=False,
    )
    app.state.ctx = ctx
    errors.install(app)
    app.add_middleware(AuthFirst)  # credentials before FastAPI reads a body
    for module in (sending, reports, accounts):
        app.include_router(module.router)
    app.openapi = _without_422(app.openapi)  # type: ignore[method-assign]
    return app


def _without_422(build: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """FastAPI documents its 422 validation answers; ours are 400 with a code (errors.py)."""

    def openapi() -> dict[str, Any]:
        document = build()
        for path in document.get("paths", {}).values():
            for operation in path.values():
                operation.get("responses", {}).pop("422", None)
        schemas = document.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        return document

    return openapi
