"""The API 9.0 method table and the one endpoint that serves every method.

A method is an async function of a `Call` returning the answer's fields. The endpoint decodes the
request, finds the method (case-insensitively), authenticates, resolves `subaccount`, runs the
method and encodes its answer in the asked format. Every failure a caller can cause becomes an
answer in that method's own error format, HTTP 200, as the manual's server does: a method with a
status table in the manual answers a status from it (its `errors`), the others `{"error": ...}`
(DESIGN §5).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import Response

from hirondelle.api.v9 import wire
from hirondelle.context import Context
from hirondelle.services import access, accounts, console
from hirondelle.services.access import AccessRefused, Throttled
from hirondelle.services.accounts import Account

log = structlog.get_logger(__name__)

Fields = dict[str, Any]


class MethodError(Exception):
    """A failure to report in the method's own format (`fields` are the answer's)."""

    def __init__(self, fields: Fields) -> None:
        super().__init__(fields)
        self.fields = fields


def error(reason: str) -> MethodError:
    """The generic error answer `{"error": reason}` (XML `<error>`) of DESIGN.md §5."""
    return MethodError({"error": reason})


class Failure(Enum):
    """The failures `serve` meets before a method runs, for the method to answer in its format."""

    CREDENTIALS = "credentials"  # no active account for this login and apiKey
    SUBACCOUNT = "subaccount"  # `subaccount` names no sub-account of the caller
    REQUEST = "request"  # the request cannot be decoded, or lacks a parameter
    ADDRESS = "address"  # the caller's IP address is not in its account's allow-list
    THROTTLED = "throttled"  # over the account's requests/s or messages/s limit (HTTP 429)


#: A method's error answer: (what failed, the reason in words) -> the answer's fields.
ErrorAnswer = Callable[[Failure, str], Fields]

BAD_CREDENTIALS = "Bad credentials: no active account matches this login and apiKey"


#: Annex 5 and annex 21 have no status for a refused address or a throttled call: both answer
#: their 102 ("Connection Problem") with the reason in place of the text about credentials.
REFUSED_STATUS = 102
ACCESS_FAILURES = (Failure.ADDRESS, Failure.THROTTLED)


def access_refusal(reason: str) -> Fields:
    """The answer of a method with status table 5 or 21 to a refused address or a throttle."""
    return {"status": REFUSED_STATUS, "statusText": f"Connection Problem - {reason}"}


def generic_errors(_failure: Failure, reason: str) -> Fields:
    """The answer of the methods without a status table: `{"error": reason}`."""
    return {"error": reason}


def status_errors(code: int, key: str = "statusText") -> ErrorAnswer:
    """The answer of the methods whose table has a plain error status: `{"status": code, key:
    reason}` (the lists' and sub-accounts' 0)."""

    def answer(_failure: Failure, reason: str) -> Fields:
        return {"status": code, key: reason}

    return answer


class UnknownSubaccount(ValueError):
    """`subaccount` names no sub-account of the caller; the message is safe to show."""


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
    errors: ErrorAnswer = generic_errors

    def param(self, name: str) -> str | None:
        return self.params.get(name)

    def fail(self, failure: Failure, reason: str) -> MethodError:
        """The method's own answer to `failure`, to raise."""
        return MethodError(self.errors(failure, reason))

    def require(self, name: str, reason: str | None = None) -> str:
        value = self.params.get(name)
        if value is None:
            raise self.fail(Failure.REQUEST, reason or f"Missing parameter: {name}")
        return value

    @property
    def idempotency_key(self) -> str | None:
        return self.request.headers.get("idempotency-key") or None


Handler = Callable[[Call], Awaitable[Fields]]


@dataclass(frozen=True)
class Method:
    name: str
    handler: Handler
    #: how the method answers a failure: `generic_errors` unless the manual gives it a table
    errors: ErrorAnswer = generic_errors
    takes_subaccount: bool = True
    #: the feed parameter whose format decides the answer format (sendSms: smsData)
    feed: str | None = None
    #: a send: authenticated from the process's recent authentications (`accounts.authenticate`)
    recent_auth: bool = False


METHODS: dict[str, Method] = {}


def method(
    name: str,
    *,
    errors: ErrorAnswer = generic_errors,
    takes_subaccount: bool = True,
    feed: str | None = None,
    recent_auth: bool = False,
) -> Callable[[Handler], Handler]:
    """Register an API 9.0 method under `name` (looked up case-insensitively)."""

    def register(handler: Handler) -> Handler:
        METHODS[name.lower()] = Method(name, handler, errors, takes_subaccount, feed, recent_auth)
        return handler

    return register


async def resolve_subaccount(ctx: Context, caller: Account, login: str | None) -> Account:
    """The caller (no `login`, or its own), or its sub-account `login`; else UnknownSubaccount."""
    if login is None or login == caller.login:
        return caller
    sub = await accounts.find_account(ctx, login)
    if sub is None or sub.parent_id != caller.id:
        raise UnknownSubaccount(f"Unknown sub-account: {login}")
    return sub


CONTROL_CHARACTERS = "Control characters (NUL, ESC, ...) are not allowed in parameters"


def _credentials(params: wire.Params) -> tuple[str | None, str | None]:
    return params.get("login"), params.get("apikey")


async def _authenticate(
    request: Request, params: wire.Params, recent: bool = False
) -> Account | None:
    """The caller, or None (marked `auth=failed` on the request's access log line); then its
    address and request rate are checked (AddressRefused, Throttled: services/access.py).
    `recent`: see `accounts.authenticate` (the sends)."""
    ctx: Context = request.app.state.ctx
    address = request.client.host if request.client else None
    console_account = console.console_account(request.scope)
    if console_account is not None:  # the customer area's console, in-process (no key)
        caller = console.console_caller(console_account, params.get("login"))
    else:
        caller = await accounts.authenticate(ctx, *_credentials(params), address, recent=recent)
    if caller is None:
        request.state.auth = "failed"
        return None
    await access.admit_caller(ctx, caller, address)
    return caller


def _refused(
    name: str, errors: ErrorAnswer, exc: AccessRefused, fmt: wire.Format, json_type: str
) -> Response:
    """The method's own answer to a refused address (HTTP 200, as every answer of API 9.0) or
    to a throttled call (HTTP 429 with Retry-After, the body still the method's)."""
    if isinstance(exc, Throttled):
        fields = errors(Failure.THROTTLED, str(exc))
        headers = {"Retry-After": str(exc.retry_after)}
        return _respond(name, fields, fmt, json_type, status_code=429, headers=headers)
    return _respond(name, errors(Failure.ADDRESS, str(exc)), fmt, json_type)


async def serve(request: Request, method_name: str) -> Response:
    """Serve one API 9.0 request for `method_name` (as written in the URL).

    Credentials in the query string are checked before the body is read: a caller with a wrong
    key gets its answer without the server reading (or parsing) a large body.
    """
    ctx: Context = request.app.state.ctx
    json_type = ctx.settings.json_content_type
    spec = METHODS.get(method_name.lower())
    errors = spec.errors if spec else generic_errors
    try:
        query = wire.query_pairs(request)
    except wire.BadRequest as exc:
        return _respond(method_name, errors(Failure.REQUEST, str(exc)), "json", json_type)
    early = wire.Params(query)
    caller: Account | None = None
    if spec is not None and early.has_control_chars():
        fmt = wire.answer_format(early)
        return _respond(spec.name, errors(Failure.REQUEST, CONTROL_CHARACTERS), fmt, json_type)
    if spec is not None and None not in _credentials(early):
        fmt = wire.answer_format(early, early.get(spec.feed) if spec.feed else None)
        try:
            caller = await _authenticate(request, early, spec.recent_auth)
        except AccessRefused as exc:  # before the body is read
            return _refused(spec.name, errors, exc, fmt, json_type)
        if caller is None:
            return _respond(spec.name, errors(Failure.CREDENTIALS, BAD_CREDENTIALS), fmt, json_type)
    try:
        params = await wire.read_params(request, query)
    except wire.BadRequest as exc:
        return _respond(method_name, errors(Failure.REQUEST, str(exc)), "json", json_type)
    feed = params.get(spec.feed) if spec and spec.feed else None
    fmt = wire.answer_format(params, feed)
    if spec is None:
        return _respond("error", {"error": f"Unknown method: {method_name}"}, fmt, json_type)
    if params.has_control_chars():  # NUL, ESC...: never text, and NUL breaks PostgreSQL
        return _respond(spec.name, errors(Failure.REQUEST, CONTROL_CHARACTERS), fmt, json_type)
    api_key = params.get("apikey")
    try:
        if caller is None or _credentials(params) != _credentials(early):  # the body's win
            caller = await _authenticate(request, params, spec.recent_auth)
    except AccessRefused as exc:
        return _refused(spec.name, errors, exc, fmt, json_type)
    if caller is None or api_key is None:
        return _respond(spec.name, errors(Failure.CREDENTIALS, BAD_CREDENTIALS), fmt, json_type)
    try:
        account = caller
        if spec.takes_subaccount:
            account = await resolve_subaccount(ctx, caller, params.get("subaccount"))
        call = Call(ctx, request, params, spec.name, caller, api_key, account, fmt, errors=errors)
        fields = await spec.handler(call)
        fmt = call.format
    except UnknownSubaccount as exc:
        return _respond(spec.name, errors(Failure.SUBACCOUNT, str(exc)), fmt, json_type)
    except MethodError as exc:
        return _respond(spec.name, exc.fields, fmt, json_type)
    except Throttled as exc:  # the send's messages/s limit
        return _refused(spec.name, errors, exc, fmt, json_type)
    return _respond(spec.name, fields, fmt, json_type)


def _respond(
    name: str,
    fields: Fields,
    fmt: wire.Format,
    json_type: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    answer = wire.encode(name, fields, fmt, json_type)
    return Response(answer.body, status_code, headers, media_type=answer.media_type)
