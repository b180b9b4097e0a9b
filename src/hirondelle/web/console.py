"""`/account/console`: the API console. Pick an API 9.0 method or a REST operation; its form is
built from the catalogue (domain/catalogue.py); the exact request is shown as curl and Python
before it is sent (static/console.js redraws it as the form changes; the server draws it for a
browser without script); sending it calls the API in-process as the signed-in account
(web/inprocess.py, services/console.py), for real, or as a simulation where the method has one.
The answer is pretty-printed, its statuses explained from the manual's annex tables.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

from lxml import etree
from starlette.requests import Request
from starlette.responses import Response

from hirondelle.domain import catalogue, console
from hirondelle.domain.catalogue import CATALOGUE, CREDENTIALS, REST_ENDPOINTS, Parameter
from hirondelle.domain.console import ConsoleRequest, Explanation
from hirondelle.web.account_pages import AccountPage
from hirondelle.web.i18n import N_
from hirondelle.web.inprocess import call_as
from hirondelle.web.pages import public_base_url

DEFAULT = "getInfo"
UNKNOWN_METHOD = N_("There is no such method.")
#: The console's own answer when the call outlives web/inprocess.py's TIMEOUT.
TOO_LONG = "The call did not answer in time; it may still complete: check before trying again."
#: What the console sends in place of the key (ignored: the scope says who calls; getInfo
#: echoes it, masked).
KEY_PLACEHOLDER = "********"
#: Parameters whose value is a feed: a multi-line field.
FEEDS = {"smsData", "accountData", "listData", "populateData", "deleteData", "emailData"}
Role = Literal["form", "path", "query", "body"]


@dataclass(frozen=True)
class Field:
    name: str
    help: str
    mandatory: bool
    role: Role
    example: str

    @property
    def multiline(self) -> bool:
        return self.name in FEEDS or self.role == "body"


@dataclass(frozen=True)
class Choice:
    """The method or operation on the page, with the fields of its form."""

    key: str
    verb: str
    path: str
    summary: str
    statuses: str
    fields: tuple[Field, ...]
    simulation: str = ""

    @property
    def rest(self) -> bool:
        return self.key.startswith("rest-")

    def request(self, login: str, values: dict[str, str]) -> ConsoleRequest:
        if self.rest:
            return console.rest_request(catalogue.rest_endpoint(self.key), login, values)
        return console.v9_request(catalogue.by_name(self.key), login, values)


def _fields(parameters: tuple[Parameter, ...], role: Role) -> tuple[Field, ...]:
    return tuple(Field(p.name, p.help, p.mandatory, role, p.example) for p in parameters)


def choice(key: str) -> Choice | None:
    if key.startswith("rest-"):
        try:
            op = catalogue.rest_endpoint(key)
        except KeyError:
            return None
        fields = _fields(op.path_params, "path") + _fields(op.query_params, "query")
        if op.body:
            fields += (Field("body", "The JSON body", True, "body", op.body),)
        return Choice(key, op.verb, op.path, op.summary, "", fields)
    try:
        doc = catalogue.by_name(key)
    except KeyError:
        return None
    parameters = tuple(p for p in doc.parameters if p not in CREDENTIALS)
    simulation = catalogue.SIMULATIONS.get(doc.name, "")
    return Choice(
        doc.name,
        "POST",
        doc.path,
        doc.summary,
        doc.statuses,
        _fields(parameters, "form"),
        simulation,
    )


@dataclass(frozen=True)
class Shown:
    """The answer of a call, as the page shows it."""

    method: str
    status: int
    content_type: str
    text: str
    explanations: list[Explanation]
    simulated: bool


def pretty(body: bytes, content_type: str) -> tuple[str, Any]:
    """The body indented (JSON or XML) and, for JSON, its decoded value."""
    text = body.decode("utf-8", "replace")
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            value = json.loads(text)
        except ValueError:
            return text, None
        return json.dumps(value, indent=2, ensure_ascii=False), value
    if (stripped.startswith("<") and "xml" in content_type) or stripped.startswith("<?xml"):
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        try:
            root = etree.fromstring(body, parser)
        except etree.XMLSyntaxError:
            return text, None
        return etree.tostring(root, pretty_print=True, encoding="unicode"), None
    return text, None


async def _send(page: AccountPage, request: ConsoleRequest) -> tuple[int, str, bytes]:
    login = page.account.login
    if request.rest:
        token = base64.b64encode(f"{login}:{KEY_PLACEHOLDER}".encode()).decode()
        headers = [("authorization", f"Basic {token}")]
        if request.body:
            headers.append(("content-type", "application/json"))
        body = request.body.encode()
    else:
        headers = [("content-type", "application/x-www-form-urlencoded")]
        fields = [("login", login), ("apiKey", KEY_PLACEHOLDER), *request.form]
        body = urlencode(fields).encode()
    answer = await call_as(page.request, page.account, request.verb, request.target, headers, body)
    return answer.status, answer.content_type, answer.body


async def console_page(request: Request) -> Response:
    page = await AccountPage.open(request)
    if page.refusal is not None:
        return page.refusal
    values: dict[str, str] = {}
    shown: Shown | None = None
    if request.method == "POST":
        form = await page.form()
        if form is None:
            return page.expired()
        chosen = choice(form.get("method", ""))
        if chosen is None:
            return page.render("refused.html", 404, error=UNKNOWN_METHOD)
        values = {field.name: form.get(field.name, "") for field in chosen.fields}
        simulate = form.get("action") == "simulate" and bool(chosen.simulation)
        target = choice(chosen.simulation) if simulate else chosen
        assert target is not None
        try:
            status, content_type, body = await _send(
                page, target.request(page.account.login, values)
            )
        except TimeoutError:
            status, content_type, body = 504, "text/plain", TOO_LONG.encode()
        text, decoded = pretty(body, content_type)
        explained = console.explain(target.key, decoded)
        shown = Shown(target.key, status, content_type, text, explained, simulate)
    else:
        chosen = choice(request.query_params.get("method", DEFAULT)) or choice(DEFAULT)
        assert chosen is not None
        values = {field.name: field.example for field in chosen.fields}
    built = chosen.request(page.account.login, values)
    base_url = public_base_url(request)
    return page.render(
        "console.html",
        chosen=chosen,
        values=values,
        methods=[doc.name for doc in CATALOGUE],
        rest=REST_ENDPOINTS,
        base_url=base_url,
        curl=console.as_curl(built, base_url),
        python=console.as_python(built, base_url),
        key_variable=console.KEY_VARIABLE,
        shown=shown,
    )
