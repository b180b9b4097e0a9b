"""The API 9.0 method table and the one endpoint that serves every method.

A method is an async function of a `Call` returning the answer's fields. The endpoint decodes the
request, finds the method (case-insensitively), authenticates, resolves `subaccount`, runs the
method and encodes its answer in the asked format. Every failure a caller can cause becomes an
answer in that method's own error format, HTTP 200, as the manual's server does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import Response

from hirondelle.api.v9 import wire
from hirondelle.services import accounts
from hirondelle.services.accounts import Account
from hirondelle.services.context import Context

log = structlog.get_logger(__name__)

Fields = dict[str, Any]


class MethodError(Exception):
    """A failure to report in the method's own format (`fields` are the answer's)."""

    def __init__(self, fields: Fields, fmt: wire.Format | None = None) -> None:
        super().__init__(fields)
        self.fields = fields
        self.format = fmt


def error(reason: str) -> MethodError:
    """The generic error answer `{"error": reason}` (XML `<error>`) of DESIGN.md §5."""
    return MethodError({"error": reason})


@dataclass
class Call:
    """One request to an API 9.0 method, authenticated."""

    ctx: Context
    request: Request
    params: wire.Params
    method: str
    caller: Account
    api_key: str
    account: Account  # the caller, or the sub-account named by `subaccount`
    format: wire.Format = "json"
    extra: dict[str, Any] = field(default_factory=dict)

    def param(self, name: str) -> str | None:
        return self.params.get(name)

    def require(self, name: str, reason: str | None = None) -> str:
        value = self.params.get(name)
        if value is None:
            raise error(reason or f"Missing parameter: {name}")
        return value

    @property
    def idempotency_key(self) -> str | None:
        return self.request.headers.get("idempotency-key") or None


Handler = Callable[[Call], Awaitable[Fields]]
AuthFailure = Callable[[], Fields]
#: The answer to a request the method refuses before running (the reason as argument).
BadInput = Callable[[str], Fields]


def generic_auth_failure() -> Fields:
    return {"error": "Bad credentials: no active account matches this login and apiKey"}


def generic_bad_input(reason: str) -> Fields:
    return {"error": reason}


@dataclass(frozen=True)
class Method:
    name: str
    handler: Handler
    auth_failure: AuthFailure = generic_auth_failure
    takes_subaccount: bool = True
    #: the feed parameter whose format decides the answer format (sendSms: smsData)
    feed: str | None = None
    bad_input: BadInput = generic_bad_input


METHODS: dict[str, Method] = {}


def method(
    name: str,
    *,
    auth_failure: AuthFailure = generic_auth_failure,
    takes_subaccount: bool = True,
    feed: str | None = None,
    bad_input: BadInput = generic_bad_input,
) -> Callable[[Handler], Handler]:
    """Register an API 9.0 method under `name` (looked up case-insensitively)."""

    def register(handler: Handler) -> Handler:
        spec = Method(name, handler, auth_failure, takes_subaccount, feed, bad_input)
        METHODS[name.lower()] = spec
        return handler

    return register


async def resolve_subaccount(ctx: Context, caller: Account, login: str | None) -> Account:
    if login is None or login == caller.login:
        return caller
    sub = await accounts.find_account(ctx, login)
    if sub is None or sub.parent_id != caller.id:
        raise error(f"Unknown sub-account: {login}")
    return sub


CONTROL_CHARACTERS = "Control characters (NUL, ESC, ...) are not allowed in parameters"


def _credentials(params: wire.Params) -> tuple[str | None, str | None]:
    return params.get("login"), params.get("apikey")


async def _authenticate(request: Request, params: wire.Params) -> Account | None:
    """The caller, or None (marked `auth=failed` on the request's access log line)."""
    ctx: Context = request.app.state.ctx
    address = request.client.host if request.client else None
    caller = await accounts.authenticate(ctx, *_credentials(params), address)
    if caller is None:
        request.state.auth = "failed"
    return caller


async def serve(request: Request, method_name: str) -> Response:
    """Serve one API 9.0 request for `method_name` (as written in the URL).

    Credentials in the query string are checked before the body is read: a caller with a wrong
    key gets its answer without the server reading (or parsing) a large body.
    """
    ctx: Context = request.app.state.ctx
    json_type = ctx.settings.json_content_type
    spec = METHODS.get(method_name.lower())
    try:
        query = wire.query_pairs(request)
    except wire.BadRequest as exc:
        return _respond(method_name, {"error": str(exc)}, "json", json_type)
    early = wire.Params(query)
    caller: Account | None = None
    if spec is not None and early.has_control_chars():
        fmt = wire.answer_format(early)
        return _respond(spec.name, spec.bad_input(CONTROL_CHARACTERS), fmt, json_type)
    if spec is not None and None not in _credentials(early):
        caller = await _authenticate(request, early)
        if caller is None:
            fmt = wire.answer_format(early, early.get(spec.feed) if spec.feed else None)
            return _respond(spec.name, spec.auth_failure(), fmt, json_type)
    try:
        params = await wire.read_params(request, query)
    except wire.BadRequest as exc:
        return _respond(method_name, {"error": str(exc)}, "json", json_type)
    feed = params.get(spec.feed) if spec and spec.feed else None
    fmt = wire.answer_format(params, feed)
    if spec is None:
        return _respond("error", {"error": f"Unknown method: {method_name}"}, fmt, json_type)
    if params.has_control_chars():  # NUL, ESC...: never text, and NUL breaks PostgreSQL
        return _respond(spec.name, spec.bad_input(CONTROL_CHARACTERS), fmt, json_type)
    api_key = params.get("apikey")
    if caller is None or _credentials(params) != _credentials(early):  # the body's win
        caller = await _authenticate(request, params)
    if caller is None or api_key is None:
        return _respond(spec.name, spec.auth_failure(), fmt, json_type)
    try:
        account = caller
        if spec.takes_subaccount:
            account = await resolve_subaccount(ctx, caller, params.get("subaccount"))
        call = Call(ctx, request, params, spec.name, caller, api_key, account, fmt)
        fields = await spec.handler(call)
        fmt = call.format
    except MethodError as exc:
        return _respond(spec.name, exc.fields, exc.format or fmt, json_type)
    return _respond(spec.name, fields, fmt, json_type)


def _respond(name: str, fields: Fields, fmt: wire.Format, json_type: str) -> Response:
    answer = wire.encode(name, fields, fmt, json_type)
    return Response(answer.body, status_code=200, media_type=answer.media_type)
