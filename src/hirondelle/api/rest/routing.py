"""Registering an operation under its path with and without the trailing slash (one documented)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.routing import compile_path

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])

#: path pattern -> the methods of every operation on it, for the `Allow` header of a 405
#: (Starlette names only those of the first route that matched, and GET and PUT of one path
#: are two routes).
_METHODS: dict[re.Pattern[str], set[str]] = {}


def allowed_methods(path: str) -> list[str]:
    return sorted(
        {m for pattern, methods in _METHODS.items() if pattern.match(path) for m in methods}
    )


def operation(
    router: APIRouter,
    method: str,
    path: str,
    answer: type[BaseModel],
    errors: Mapping[int | str, dict[str, Any]],
    summary: str,
    status_code: int = 200,
) -> Callable[[Endpoint], Endpoint]:
    """Add `path` (documented) and its twin with or without the final slash (not documented),
    answering `answer` with `status_code`, or one of the `errors`."""
    twin = path.rstrip("/") if path.endswith("/") else f"{path}/"
    options: dict[str, Any] = {
        "response_model": answer,
        "responses": dict(errors),
        "summary": summary,
        "status_code": status_code,
    }

    for template in (path, twin):
        _METHODS.setdefault(compile_path(template)[0], set()).add(method)

    def register(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(path, endpoint, methods=[method], **options)
        router.add_api_route(twin, endpoint, methods=[method], include_in_schema=False, **options)
        return endpoint

    return register
