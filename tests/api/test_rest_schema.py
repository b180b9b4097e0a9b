"""schemathesis against the REST API's own OpenAPI document (`/openapi.json`), on both engines.

Every operation gets generated requests, valid and invalid, with valid Basic credentials (and
schemathesis tries missing and wrong ones itself); every answer must match the document (status,
content type, headers, body schema), and none may be a 500.

The schema is loaded at import through `CurrentApp`, an ASGI app that forwards to the application
of the running test: each test gets a fresh store (schemathesis' `from_fixture` does not work with
pytest 9).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import cast

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from starlette.types import ASGIApp, Receive, Scope, Send

from hirondelle.api import rest
from hirondelle.app import create_app
from hirondelle.context import Context
from tests.helpers import make_account

#: Generated requests per operation and engine: about a minute for the whole module.
EXAMPLES = 100


class CurrentApp:
    """Forwards to `app`, which each test sets to its own application."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


current = CurrentApp(rest.create_app(cast(Context, None)))  # only serves /openapi.json here
schema = schemathesis.openapi.from_asgi("/openapi.json", current)
# Well-formed requests may still break a business rule: a number that is no mobile, a date that
# is no date (400 with the send status), or too few credits (402). Nothing else is acceptable.
schema.config.checks.positive_data_acceptance.expected_statuses = [
    "2xx",
    "400",
    "401",
    "402",
    "404",
    "409",
]


@pytest.fixture
def fuzz_account(ctx: Context) -> Iterator[None]:
    """A rich account whose Basic credentials `BasicAuth` gives, and the app over `ctx`."""
    creds = make_account(ctx, "fuzz", credits=10**9)
    token = base64.b64encode(f"{creds.login}:{creds.api_key}".encode()).decode()
    previous, current.app = current.app, create_app(ctx)
    BasicAuth.header = f"Basic {token}"
    yield
    current.app, BasicAuth.header = previous, ""


@schemathesis.auth(refresh_interval=None, retry_on=[])
class BasicAuth:
    """Valid credentials on generated requests (schemathesis leaves them off to test 401s)."""

    header = ""

    def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> str:
        return self.header

    def set(self, case: schemathesis.Case, data: str, context: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": data}


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_keeps_to_its_document(case: schemathesis.Case, fuzz_account: None) -> None:
    case.call_and_validate()
