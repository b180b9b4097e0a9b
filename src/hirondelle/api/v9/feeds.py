"""Decoding of the JSON or XML feeds of API 9.0 (smsData, accountData, emailData, ...).

A feed becomes a plain tree: a dict whose keys are the tag names in upper case, whose leaves are
stripped strings, and where a repeated tag becomes a list. Which format: the first non-blank
character (`<` is XML). Feeds come from the Internet, so XML is parsed with every dangerous
feature off, and any DOCTYPE (the door to entity expansion and external entities) is refused.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from lxml import etree

from hirondelle.domain.controls import has_control_chars

Tree = dict[str, Any]

MAX_FEED_BYTES = 32 * 1024 * 1024

#: Feeds longer than this are decoded on a worker thread, off the event loop.
OFF_LOOP_CHARS = 256 * 1024

T = TypeVar("T")


async def off_loop(decode: Callable[[str | None], T], feed: str | None) -> T:
    """`decode(feed)`; on a worker thread when the feed is large, so that decoding megabytes
    of JSON or XML does not hold every other request (and the SMPP sessions) up."""
    if feed is not None and len(feed) > OFF_LOOP_CHARS:
        return await asyncio.to_thread(decode, feed)
    return decode(feed)


class EmptyFeed(ValueError):
    """No feed, or a feed without content."""


class InvalidFeed(ValueError):
    """A feed that is not well-formed JSON or XML, or not shaped like the manual's."""


_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
    strip_cdata=True,
    recover=False,
    # The feed reaches the parser as a decoded str re-encoded in UTF-8: a declared encoding
    # (`<?xml ... encoding="ISO-8859-1"?>`) no longer describes these bytes.
    encoding="utf-8",
)
_DOCTYPE = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def parse_feed(text: str | None, root: str = "DATA") -> Tree:
    """The `root` object of a JSON or XML feed as a tree (see the module docstring)."""
    if text is None or not text.strip():
        raise EmptyFeed("empty feed")
    if len(text) > MAX_FEED_BYTES:
        raise InvalidFeed("feed too large")
    text = text.strip().lstrip("\ufeff")
    tree = _parse_xml(text, root) if text.startswith("<") else _parse_json(text, root)
    if not tree:
        raise EmptyFeed("empty feed")
    return tree


# -- JSON ------------------------------------------------------------------------------------


def _parse_json(text: str, root: str) -> Tree:
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidFeed(f"invalid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidFeed("the JSON feed must be an object")
    try:
        document = _upper_keys(document)
    except RecursionError:  # orjson nests up to 1024 levels, deeper than Python recurses
        raise InvalidFeed("the JSON feed is nested too deeply") from None
    data = document.get(root, document)
    if data is None:
        raise EmptyFeed("empty feed")
    if not isinstance(data, dict):
        raise InvalidFeed(f"{root} must be an object")
    return data


def _upper_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_text(str(k)).upper(): _upper_keys(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_upper_keys(v) for v in value if v is not None]
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return _text(value)
    return value


def _text(value: str) -> str:
    """A JSON string, refused when it holds a control character (`\\u0000`, ...)."""
    if has_control_chars(value):
        raise InvalidFeed("control characters are not allowed")
    return value.strip()


# -- XML -------------------------------------------------------------------------------------


def _parse_xml(text: str, root: str) -> Tree:
    if _DOCTYPE.search(text):
        raise InvalidFeed("DOCTYPE and ENTITY declarations are not allowed")
    try:
        element = etree.fromstring(text.encode("utf-8"), _PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise InvalidFeed(f"invalid XML: {exc}") from exc
    tree = _element_tree(element)
    if _tag(element) == root:
        return tree if isinstance(tree, dict) else {}
    return {_tag(element): tree}


def _tag(element: Any) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return str(etree.QName(tag).localname).strip().upper()


def _element_tree(element: Any) -> Any:
    children = [child for child in element if isinstance(child.tag, str)]
    if not children:
        return (element.text or "").strip()
    grouped: dict[str, list[Any]] = {}
    for child in children:
        grouped.setdefault(_tag(child), []).append(_element_tree(child))
    return {key: values[0] if len(values) == 1 else values for key, values in grouped.items()}


# -- reading trees ---------------------------------------------------------------------------


def text_of(tree: Tree, *names: str) -> str | None:
    """The first non-empty text among `names` (case-insensitive tags), or None."""
    for name in names:
        value = tree.get(name.upper())
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str) and value.strip():
            return value
    return None


def items_of(tree: Tree, *names: str) -> list[Any]:
    """The items under the first present container among `names`: a list, or one object alone.

    A container may hold its items directly (`"SMS": [{...}]`) or wrap them once more
    (`<CONTACTS><CONTACT>…</CONTACT></CONTACTS>`); both give the list of items.
    """
    for name in names:
        if name.upper() not in tree:
            continue
        value = tree[name.upper()]
        if isinstance(value, dict) and len(value) == 1:
            (inner,) = value.values()
            if isinstance(inner, (list, dict)) and not _looks_like_item(value):
                value = inner
        if isinstance(value, list):
            return value
        if value in ("", None):
            return []
        return [value]
    return []


def holds_tag(value: Any, tag: str) -> bool:
    """Does `value` (a subtree) have a `tag` element anywhere inside it?"""
    tag = tag.upper()
    pending = [value]
    while pending:  # a loop, not recursion: a feed may nest deeper than Python recurses
        item = pending.pop()
        if isinstance(item, dict):
            if tag in item:
                return True
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _looks_like_item(value: Tree) -> bool:
    """A one-key dict that is itself an item (e.g. `{"MOBILEPHONE": "..."}`), not a wrapper."""
    (inner,) = value.values()
    return isinstance(inner, str)
