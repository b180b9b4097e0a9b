"""The wire format lives in `api/` (and in `notify/` for the webhook calls): a service returns
plain values, and never writes the keys of an API answer (`statusText`, `invalidNumbers`, ...).

The keys are not listed here by hand: they are the camelCase names that `api/` writes as dict
keys, read from its source with `ast`. A string of `services/` that is one of them, or the
acceptance's grep (`statusText`, `invalidNumbers` anywhere, comments included), fails the test.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "hirondelle"
CAMEL = re.compile(r"[a-z]+[A-Z][A-Za-z]*")
NEVER = re.compile(r"statusText|invalidNumbers")


def sources(part: str) -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted((PACKAGE / part).rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"))


def answer_keys() -> set[str]:
    """The camelCase keys of the dicts that `api/` builds (its answers, in both APIs)."""
    keys: set[str] = set()
    for _path, tree in sources("api"):
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                keys.update(
                    key.value
                    for key in node.keys
                    if isinstance(key, ast.Constant)
                    and isinstance(key.value, str)
                    and CAMEL.fullmatch(key.value)
                )
    return keys


def docstrings(tree: ast.Module) -> set[int]:
    """The ids of the docstring nodes of a module (prose may name an API key)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def test_api_answers_have_camel_case_keys() -> None:
    """The oracle below is not empty: it knows the keys of the sendSms answer."""
    assert {"statusText", "invalidNumbers", "campaignId", "creditsUsed", "smsIds"} <= answer_keys()


def test_services_write_no_api_key() -> None:
    keys = answer_keys()
    found: list[str] = []
    for path, tree in sources("services"):
        skip = docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in keys
                and id(node) not in skip
            ):
                found.append(f"{path.name}:{node.lineno}: {node.value!r}")
        text = path.read_text(encoding="utf-8")
        found.extend(
            f"{path.name}:{text.count(chr(10), 0, m.start()) + 1}: {m.group()}"
            for m in NEVER.finditer(text)
        )
    assert not found, "\n".join(found)
