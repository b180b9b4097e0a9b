"""Every failure of the REST API as a non-2xx answer `{"code": <int>, "description": "..."}`.

`code` is the send status of annex 5 where one applies (110 empty message, 114 no valid number,
...), else the HTTP status (404, 405, ...). Errors are mapped to HTTP here only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from hirondelle.api.rest.models import ErrorAnswer
from hirondelle.api.rest.routing import allowed_methods
from hirondelle.domain.statuses import SendStatus
from hirondelle.services.access import AccessRefused, Throttled
from hirondelle.services.sending import SendRefused

AUTH_CHALLENGE = {"WWW-Authenticate": 'Basic realm="hirondelle"'}
AUTH_DESCRIPTION = "Missing or wrong credentials: use HTTP Basic auth with your login and API key"
INVALID_SENDER = "Invalid sender"

#: The HTTP status of each refusal of a send.
SEND_HTTP_STATUS: dict[SendStatus, int] = {
    SendStatus.BAD_CREDENTIALS: 401,
    SendStatus.INSUFFICIENT_CREDITS: 402,
}


class RestError(Exception):
    """An answer `{"code": code, "description": description, **extra}`, HTTP `http_status`."""

    def __init__(
        self,
        http_status: int,
        code: int,
        description: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(description)
        self.http_status = http_status
        self.code = code
        self.description = description
        self.headers = headers
        self.extra = extra


def unauthorized() -> RestError:
    code = int(SendStatus.BAD_CREDENTIALS)
    return RestError(401, code, AUTH_DESCRIPTION, headers=AUTH_CHALLENGE)


def invalid_sender() -> RestError:
    return RestError(400, int(SendStatus.EMPTY_MESSAGE), INVALID_SENDER)


def not_found(description: str) -> RestError:
    return RestError(404, 404, description)


def known_id(value: str) -> str:
    """An id from a path, or 404 for one no store could hold (a NUL character)."""
    if "\x00" in value:
        raise not_found(f"Not found: {value!r}")
    return value


def refused(exc: SendRefused, *, balance: int | None = None) -> RestError:
    """A refused send; the invalid numbers (and the balance when short of credits) go along."""
    extra: dict[str, Any] = {"invalidNumbers": exc.invalid_numbers}
    if exc.credits is not None or balance is not None:
        extra["balance"] = exc.credits if exc.credits is not None else balance
    status = SEND_HTTP_STATUS.get(exc.status, 400)
    return RestError(status, int(exc.status), exc.text, **extra)


def access_refused(exc: AccessRefused) -> RestError:
    """403 for an address outside the account's allow-list; 429 with Retry-After (whole
    seconds) over its requests/s or messages/s limit."""
    if isinstance(exc, Throttled):
        headers = {"Retry-After": str(exc.retry_after)}
        return RestError(429, 429, str(exc), headers=headers)
    return RestError(403, 403, str(exc))


def _answer(
    http_status: int,
    code: int,
    description: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    return JSONResponse({"code": code, "description": description, **extra}, http_status, headers)


def rest_error_answer(exc: RestError) -> JSONResponse:
    return _answer(exc.http_status, exc.code, exc.description, exc.headers, **exc.extra)


async def _rest_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RestError)
    return rest_error_answer(exc)


async def _access_refused(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AccessRefused)
    return rest_error_answer(access_refused(exc))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 401:
        return _answer(401, int(SendStatus.BAD_CREDENTIALS), AUTH_DESCRIPTION, AUTH_CHALLENGE)
    headers = exc.headers
    if exc.status_code == 405:
        allowed = ", ".join(allowed_methods(request.url.path))
        headers = {**(headers or {}), "Allow": allowed or (headers or {}).get("Allow", "")}
    return _answer(exc.status_code, exc.status_code, str(exc.detail), headers)


def describe_validation(errors: Sequence[Any]) -> tuple[int, str]:
    """The code and description of a request that FastAPI could not decode or validate."""
    first = errors[0] if errors else {}
    loc = [str(part) for part in first.get("loc", ()) if part != "body"]
    if first.get("type") == "json_invalid":
        return int(SendStatus.INVALID_FEED), "The request body is not valid JSON"
    if first.get("type") == "missing" and not loc:
        return int(SendStatus.EMPTY_FEED), "The request body is empty: send a JSON object"
    if first.get("type") == "model_attributes_type" and not loc:
        return int(SendStatus.INVALID_FEED), "The request body must be a JSON object"
    return int(SendStatus.INVALID_FEED), _invalid(".".join(loc), str(first.get("msg", "invalid")))


def _invalid(where: str, why: str) -> str:
    return f"Invalid request: {where or 'body'}: {why}"


def invalid_request(where: str, why: str) -> RestError:
    """A request that decoded but says something we cannot read (`where`: its path, dotted)."""
    return RestError(400, int(SendStatus.INVALID_FEED), _invalid(where, why))


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    code, description = describe_validation(exc.errors())
    return _answer(400, code, description)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RestError, _rest_error)
    app.add_exception_handler(AccessRefused, _access_refused)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)


def _response(description: str) -> dict[str, Any]:
    return {"model": ErrorAnswer, "description": description}


#: Error answers every authenticated operation may give, for the OpenAPI document.
COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _response("The request is not a valid JSON body, or a parameter is invalid"),
    401: {
        **_response("Missing or wrong credentials"),
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Basic"}},
    },
    403: _response("The address the request comes from is not in the account's allow-list"),
    405: _response("Wrong HTTP method"),
    429: {
        **_response("Over the account's requests/s (or messages/s) limit"),
        "headers": {
            "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}
        },
    },
}
SEND_ERRORS: dict[int | str, dict[str, Any]] = {
    **COMMON_ERRORS,
    402: _response("Not enough credits (code 104)"),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _response("No such campaign or message")}
