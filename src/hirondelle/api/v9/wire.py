"""The wire format of API 9.0: request decoding and answer encoding, and nothing else.

Requests: GET query, urlencoded or multipart POST, in any mix; parameter names are matched
case-insensitively and through the aliases of DESIGN.md §5; empty values count as absent. Feed
parameters (smsData, accountData, ...) may arrive raw — un-urlencoded JSON or XML pasted into a
form body — which we recover instead of mangling.

Answers: JSON (orjson) or XML built from escaped strings, root element = the method name. JSON
goes out as `text/html` (as allmysms does), so no answer byte may read as markup (DESIGN.md §5
"Safe bytes"): `<`, `>`, `&`, U+2028 and U+2029 in JSON strings are `\\u` escapes, XML text and
attributes are escaped, and an element name that is not a plain XML name is never written.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape, quoteattr

import orjson
from starlette.requests import Request

from hirondelle.domain.controls import has_control_chars

Format = Literal["json", "xml"]

#: alias (lower case) -> canonical parameter name (lower case)
ALIASES = {
    "clientcode": "login",
    "smsids": "smsid",
    "campid": "campid",
    "subaccount": "subaccount",
}

#: Parameters that carry a JSON or XML feed and may be sent un-encoded.
FEED_PARAMETERS = ("smsdata", "accountdata", "emaildata", "listdata", "populatedata", "deletedata")

#: XML element name of the items of a list, by the list's key.
XML_ITEM_NAMES = {
    "smsIds": "sms",
    "acks": "ack",
    "mos": "mo",
    "blacklist": "contact",
    "subAccounts": "subAccount",
    "subaccounts": "subaccount",
    "lists": "list",
    "contacts": "contact",
    "fields": "field",
    "phoneNumbers": "phoneNumber",
    "alreadyListed": "phoneNumber",
    "notRemoved": "phoneNumber",
}

#: Bodies larger than this are parsed on a worker thread, off the event loop.
OFF_LOOP_BYTES = 256 * 1024

#: Parameters a query string or a body may carry: no method takes more than a few dozen, and
#: a megabyte of `a=&` would otherwise become hundreds of thousands of objects.
MAX_PARAMETERS = 1000


class BadRequest(ValueError):
    """The request could not be decoded; the message is safe to show to the caller."""


class Params:
    """Request parameters, case-insensitive and alias-aware; empty values are absent."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, str] = {}
        for name, value in pairs:
            key = ALIASES.get(name.lower(), name.lower())
            if value.strip() == "":
                continue
            if key == "smsid" and key in self._values:
                self._values[key] += "," + value
            else:
                self._values[key] = value

    def get(self, name: str) -> str | None:
        return self._values.get(ALIASES.get(name.lower(), name.lower()))

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def names(self) -> list[str]:
        return list(self._values)

    def has_control_chars(self) -> bool:
        """Whether a name or value holds a control character other than TAB, CR and LF."""
        return any(has_control_chars(k) or has_control_chars(v) for k, v in self._values.items())


def query_pairs(request: Request) -> list[tuple[str, str]]:
    # The raw query string, decoded as Starlette's `request.url.query` decodes it: building
    # the whole URL (its host header parsed) cost more than reading the parameters.
    return _qsl(request.scope.get("query_string", b"").decode())


def _qsl(text: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_PARAMETERS)
    except ValueError:
        raise BadRequest(f"Too many parameters (at most {MAX_PARAMETERS})") from None


async def read_params(request: Request, query: list[tuple[str, str]] | None = None) -> Params:
    """All parameters of a request: its query string, then its body (body wins).

    The body's size is limited upstream (`hirondelle.bodylimit`) as it streams.
    """
    pairs = query_pairs(request) if query is None else list(query)
    if request.method in ("POST", "PUT"):
        pairs.extend(await _body_pairs(request))
    return Params(pairs)


async def _body_pairs(request: Request) -> list[tuple[str, str]]:
    content_type = request.headers.get("content-type", "")
    body = await request.body()
    if not body:
        return []
    if len(body) > OFF_LOOP_BYTES:  # parsing megabytes would hold every other request up
        return await asyncio.to_thread(body_pairs, body, content_type)
    return body_pairs(body, content_type)


def body_pairs(body: bytes, content_type: str) -> list[tuple[str, str]]:
    if content_type.lower().startswith("multipart/form-data"):
        return _multipart_pairs(body, content_type)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = body.decode("latin-1")
    return lenient_form_pairs(text)


def _multipart_pairs(body: bytes, content_type: str) -> list[tuple[str, str]]:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise BadRequest("Multipart body without a boundary")
    boundary = match.group(1).encode()
    if b"\r\n" not in body:  # LF-only multipart, as some hand-written clients send
        body = body.replace(b"\n", b"\r\n")
    return _parse_multipart(body, boundary)


def _parse_multipart(body: bytes, boundary: bytes) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    delimiter = b"--" + boundary
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        match = re.search(rb'name="([^"]*)"', head)
        if not match:
            continue
        content = content.removesuffix(b"\r\n")
        if len(pairs) == MAX_PARAMETERS:
            raise BadRequest(f"Too many parameters (at most {MAX_PARAMETERS})")
        pairs.append(
            (match.group(1).decode("utf-8", "replace"), content.decode("utf-8", "replace"))
        )
    return pairs


def lenient_form_pairs(text: str) -> list[tuple[str, str]]:
    """Parse an urlencoded body, keeping a raw (un-encoded) JSON or XML feed value intact.

    A value that starts with `{`, `[` or `<` right after `smsData=` was not urlencoded: `&` and
    `+` inside it are data, not separators. It runs to the end of its JSON/XML document.
    """
    pairs: list[tuple[str, str]] = []
    pos = 0
    while (found := _raw_feed(text, pos)) is not None:
        name_start, value_start = found
        pairs.extend(_qsl(text[pos:name_start]))
        end = _end_of_document(text, value_start)
        pairs.append((text[name_start : value_start - 1], text[value_start:end]))
        pos = end
    pairs.extend(_qsl(text[pos:]))
    return pairs


def _raw_feed(text: str, pos: int) -> tuple[int, int] | None:
    """Where the next raw feed parameter (`smsData={...`) from `pos` starts, and its value.

    The name must follow `&` (or `pos`) and precede `=` and `{`, `[` or `<`. Found with
    `str.find` (each candidate `={`, `=[`, `=<` once), not a regular expression: a search
    with alternatives took a second over a megabyte of `a=&`, holding the GIL throughout.
    """
    nexts = {char: text.find("=" + char, pos) for char in "{[<"}
    while True:
        found = [index for index in nexts.values() if index >= 0]
        if not found:
            return None
        equals = min(found)
        name_start = text.rfind("&", pos, equals) + 1 or pos
        if text[name_start:equals].lower() in FEED_PARAMETERS:
            return name_start, equals + 1
        char = text[equals + 1]
        nexts[char] = text.find("=" + char, equals + 1)


def _end_of_document(text: str, start: int) -> int:
    """Index just past the JSON value or XML document that begins at `start`."""
    if text[start] == "<":
        closing = re.compile(r"</\s*DATA\s*>", re.IGNORECASE)
        ends = [found.end() for found in closing.finditer(text, start)]
        if ends:
            return ends[-1]
        amp = text.find("&", start)
        return len(text) if amp < 0 else amp
    depth, in_string, escaped = 0, False, False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return index + 1
    return len(text)


def answer_format(params: Params, feed: str | None = None) -> Format:
    """`returnformat` when given; else the feed's own format (XML feed → XML answer); else JSON."""
    asked = (params.get("returnformat") or "").strip().lower()
    if asked in ("json", "xml"):
        return asked  # type: ignore[return-value]
    if feed is not None and feed.lstrip().startswith("<"):
        return "xml"
    return "json"


# -- answers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    body: bytes
    media_type: str


def encode(method: str, fields: Mapping[str, Any], fmt: Format, json_type: str) -> Answer:
    if fmt == "xml":
        return Answer(encode_xml(method, fields), "application/xml; charset=UTF-8")
    return Answer(safe_json(fields), json_type)


_LS, _PS = "\u2028".encode(), "\u2029".encode()


def safe_json(value: Any) -> bytes:
    """orjson's bytes, with `<`, `>`, `&`, U+2028 and U+2029 as `\\u` escapes: the same JSON to
    a parser, and no byte a browser can read as markup. orjson writes these characters only
    inside strings, so replacing them wherever they are is exact. Most answers hold none: the
    single-byte `in` tests (memchr) keep them at orjson's speed, and the 3-byte searches run
    only when the lead byte E2 of U+2028/U+2029 is there."""
    body = orjson.dumps(value)
    if b"<" in body or b">" in body or b"&" in body:
        body = body.replace(b"&", b"\\u0026").replace(b"<", b"\\u003c").replace(b">", b"\\u003e")
    if b"\xe2" in body:
        body = body.replace(_LS, b"\\u2028").replace(_PS, b"\\u2029")
    return body


#: Element names we write as they are; any other key becomes `<field name="...">`. A name
#: that begins like an HTML element that runs or loads something (`<script`, `<img`, `<svg`, in
#: any case) is never written raw: a body sniffed as HTML must not hold one.
_XML_NAME = re.compile(r"(?!(?i:script|img|svg))[A-Za-z_][A-Za-z0-9_.-]{0,127}")


@lru_cache(maxsize=512)
def _is_xml_name(name: str) -> bool:
    return _XML_NAME.fullmatch(name) is not None


def encode_xml(root: str, fields: Mapping[str, Any]) -> bytes:
    """The XML answer; a root that is not a plain XML name (never the case for a known method)
    is written `error`."""
    root = root if _is_xml_name(root) else "error"
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<', root, ">"]
    _xml_fields(parts, fields)
    parts += ["</", root, ">\n"]
    return "".join(parts).encode()


def _xml_fields(out: list[str], fields: Mapping[str, Any]) -> None:
    for key, value in fields.items():
        if _is_xml_name(key):
            out += ["<", key, ">"]
            close = key
        else:
            out += ["<field name=", quoteattr(_XML_INVALID.sub("", key)), ">"]
            close = "field"
        if isinstance(value, Mapping):
            _xml_fields(out, value)
        elif isinstance(value, list):
            item = XML_ITEM_NAMES.get(key, "item")
            for element in value:
                out += ["<", item, ">"]
                if isinstance(element, Mapping):
                    _xml_fields(out, element)
                else:
                    out.append(_xml_text(element))
                out += ["</", item, ">"]
        else:
            out.append(_xml_text(value))
        out += ["</", close, ">"]


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return escape(_XML_INVALID.sub("", str(value)))
