"""The catalogue of API 9.0 methods (domain/catalogue.py) cannot drift from the methods served:
each registered method is in it and each entry is served; the parameters a handler wants are
the ones the catalogue calls mandatory (as far as a request can tell)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from hirondelle.api.v9.methods import METHODS
from hirondelle.context import Context
from hirondelle.domain.catalogue import CATALOGUE, CREDENTIALS, MethodDoc, by_name
from tests.api.test_subaccounts import add_sub
from tests.helpers import Creds, json_answer, make_account

#: What an answer says when a parameter it needs was not given.
MISSING = re.compile(r"missing|not defined|empty|give at least", re.IGNORECASE)


def test_every_registered_method_is_in_the_catalogue_and_back() -> None:
    served = {spec.name for spec in METHODS.values()}
    catalogued = [doc.name for doc in CATALOGUE]
    assert len(catalogued) == len(set(catalogued))
    assert sorted(catalogued) == sorted(served)


def test_each_entry_is_complete() -> None:
    for doc in CATALOGUE:
        names = [p.name for p in doc.parameters]
        assert names[:2] == [p.name for p in CREDENTIALS], doc.name
        assert len(names) == len(set(names)), doc.name
        assert doc.summary and doc.section, doc.name
        assert all(p.help for p in doc.parameters), doc.name
        assert doc.path.startswith("/http/9.0/"), doc.name
    assert by_name("SENDSMS").name == "sendSms"


def _text(answer: dict[str, Any]) -> str:
    return " ".join(str(answer.get(key, "")) for key in ("error", "statusText", "text"))


def _call(client: TestClient, creds: Creds, doc: MethodDoc, **params: str) -> dict[str, Any]:
    answer: dict[str, Any] = json_answer(client.post(doc.path, data=creds.params(**params)))
    return answer


@pytest.fixture
def creds(ctx: Context) -> Creds:
    """A master with a sub-account `kid` (the catalogue's example sub-account)."""
    master = make_account(ctx, "master")
    add_sub(ctx, "master", "kid", credits=100)
    return master


@pytest.mark.parametrize("doc", CATALOGUE, ids=lambda doc: doc.name)
def test_the_mandatory_parameters_are_the_ones_the_handler_wants(
    client: TestClient, creds: Creds, doc: MethodDoc
) -> None:
    """With the catalogue's example call, no answer says a parameter is missing; with the
    credentials alone, a method that has more mandatory parameters says so."""
    given = {p.name: p.example for p in doc.parameters if p.example and p not in CREDENTIALS}
    answer = _call(client, creds, doc, **given)
    assert not MISSING.search(_text(answer)), answer
    if len(doc.mandatory) > len(CREDENTIALS):
        bare = _call(client, creds, doc)
        assert MISSING.search(_text(bare)) or bare.get("status") in (105, 113, 1, 2), bare


def test_the_rest_operations_are_those_of_the_openapi_document(client: TestClient) -> None:
    from hirondelle.domain.catalogue import REST_ENDPOINTS

    document = client.get("/openapi.json").json()
    served = {(verb.upper(), path) for path, ops in document["paths"].items() for verb in ops}
    listed = {(op.verb, op.path) for op in REST_ENDPOINTS}
    assert listed == served
