"""What the API console (web/console.py) shows, with no I/O: the request built from a catalogue
entry and the values of its form, written as curl and as Python (httpx) with the API key masked,
and the answer's statuses explained from the manual's annex tables.

`web/static/console.js` builds the same two texts live in the browser; a browser test holds the
two to the same output, so change both together.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from hirondelle.domain.catalogue import CREDENTIALS, MethodDoc, RestEndpoint
from hirondelle.domain.email import EMAIL_STATUS_TEXTS
from hirondelle.domain.statuses import ACK_STATUS_TEXTS, DELETE_CAMPAIGN_TEXTS, SEND_STATUS_TEXTS

#: What the shown request has in place of the API key: an environment variable to set.
KEY_VARIABLE = "HIRONDELLE_API_KEY"


@dataclass(frozen=True)
class ConsoleRequest:
    """One HTTP request of the console: an API 9.0 form POST or a REST call (Basic auth)."""

    verb: str
    path: str
    login: str
    #: API 9.0: the form fields after login and apiKey (non-empty values only)
    form: tuple[tuple[str, str], ...] = ()
    #: REST: the query string's fields and the JSON body ("" when none)
    query: tuple[tuple[str, str], ...] = ()
    body: str = ""

    @property
    def rest(self) -> bool:
        return not self.path.startswith("/http/")

    @property
    def target(self) -> str:
        return self.path + ("?" + urlencode(self.query) if self.query else "")


def v9_request(doc: MethodDoc, login: str, values: Mapping[str, str]) -> ConsoleRequest:
    """The POST of `doc` with the form's `values` (empty values are left out, as the API treats
    them as absent); the credentials are always the signed-in account's."""
    names = [p.name for p in doc.parameters if p not in CREDENTIALS]
    form = tuple((name, values[name]) for name in names if values.get(name, ""))
    return ConsoleRequest("POST", doc.path, login, form=form)


def rest_request(endpoint: RestEndpoint, login: str, values: Mapping[str, str]) -> ConsoleRequest:
    path = endpoint.path
    for parameter in endpoint.path_params:
        path = path.replace(
            "{" + parameter.name + "}", quote(values.get(parameter.name, ""), safe="")
        )
    query = tuple((p.name, values[p.name]) for p in endpoint.query_params if values.get(p.name, ""))
    body = values.get("body", "") if endpoint.body else ""
    return ConsoleRequest(endpoint.verb, path, login, query=query, body=body)


def shell_quote(text: str) -> str:
    """Single quotes around everything (a `'` becomes `'"'"'`): simple to do the same in JS."""
    return "'" + text.replace("'", "'\"'\"'") + "'"


def as_curl(request: ConsoleRequest, base_url: str) -> str:
    url = shell_quote(base_url.rstrip("/") + request.target)
    if request.rest:
        lines = [f"curl -sS -X {request.verb} {url}"]
        lines.append(f'-u "{request.login}:${KEY_VARIABLE}"')
        if request.body:
            lines.append("-H 'Content-Type: application/json'")
            lines.append(f"--data-binary {shell_quote(request.body)}")
    else:
        lines = [f"curl -sS {url}"]
        lines.append(f"--data-urlencode {shell_quote('login=' + request.login)}")
        lines.append(f'--data-urlencode "apiKey=${KEY_VARIABLE}"')
        lines += [f"--data-urlencode {shell_quote(f'{k}={v}')}" for k, v in request.form]
    return " \\\n  ".join(lines)


def _literal(text: str) -> str:
    """A Python string literal (a JSON string is one, and JS writes the same)."""
    return json.dumps(text, ensure_ascii=False)


def as_python(request: ConsoleRequest, base_url: str) -> str:
    url = _literal(base_url.rstrip("/") + request.target)
    key = f'os.environ["{KEY_VARIABLE}"]'
    lines = [
        "import os",
        "",
        "import httpx",
        "",
        "answer = httpx.request(",
        f'    "{request.verb}",',
    ]
    lines.append(f"    {url},")
    if request.rest:
        lines.append(f"    auth=({_literal(request.login)}, {key}),")
        if request.body:
            lines.append('    headers={"Content-Type": "application/json"},')
            lines.append(f"    content={_literal(request.body)},")
    else:
        lines.append("    data={")
        lines.append(f'        "login": {_literal(request.login)},')
        lines.append(f'        "apiKey": {key},')
        lines += [f"        {_literal(k)}: {_literal(v)}," for k, v in request.form]
        lines.append("    },")
    lines += [")", "print(answer.status_code, answer.text)"]
    return "\n".join(lines)


# -- the answer's statuses, explained ------------------------------------------------------------

SEND_TABLE = {str(int(k)): v for k, v in SEND_STATUS_TEXTS.items()}
ACK_TABLE = {str(int(k)): v for k, v in ACK_STATUS_TEXTS.items()}
EMAIL_TABLE = {str(int(k)): v for k, v in EMAIL_STATUS_TEXTS.items()}

#: The annex table that explains a method's `status` (by catalogue name).
STATUS_TABLES: dict[str, dict[str, str]] = {
    "directSend": SEND_TABLE,
    "sendSms": SEND_TABLE,
    "simulateCampaign": SEND_TABLE,
    "getAcks": ACK_TABLE,
    "getAckBySmsId": ACK_TABLE,
    "deleteCampaign": dict(DELETE_CAMPAIGN_TEXTS),
    "sendEmail": EMAIL_TABLE,
    # REST: `code` of the send answers is annex 5's, `status` of reports annex 6's
    "rest-send": SEND_TABLE,
    "rest-bulk": SEND_TABLE,
    "rest-campaign-reports": ACK_TABLE,
    "rest-sms-reports": ACK_TABLE,
}


#: The `{date}`, `{used}`... of a status text, filled in by the real answer's statusText.
PLACEHOLDER = re.compile(r"\{\w+\}")


@dataclass(frozen=True)
class Explanation:
    field: str
    value: str
    text: str


def explain(name: str, answer: Any) -> list[Explanation]:
    """The statuses in a decoded JSON `answer` of method `name` with their annex texts (the
    top-level `status` or `code`, and each report's `status`), unknown values left out."""
    table = STATUS_TABLES.get(name)
    if table is None or not isinstance(answer, dict):
        return []
    found: list[Explanation] = []
    for key in ("status", "code"):
        _add(found, table, key, answer.get(key))
    for key in ("acks", "reports"):
        items = answer.get(key)
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict):
                    _add(found, table, f"{key}[].status", item.get("status"))
    return _unique(found)


def _add(found: list[Explanation], table: Mapping[str, str], field: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return
    text = table.get(str(value))
    if text is not None:
        found.append(Explanation(field, str(value), PLACEHOLDER.sub("…", text)))


def _unique(items: Iterable[Explanation]) -> list[Explanation]:
    return list(dict.fromkeys(items))
