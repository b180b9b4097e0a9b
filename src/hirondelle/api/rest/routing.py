"""Registering an operation under its path with and without the trailing slash (one documented)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from fastapi import APIRouter
from pydantic import BaseModel

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


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

    def register(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(path, endpoint, methods=[method], **options)
        router.add_api_route(twin, endpoint, methods=[method], include_in_schema=False, **options)
        return endpoint

    return register
