"""French and English for the web pages: one JSON catalogue per language in `web/locales/`
(key -> text), chosen from the `lang` cookie, else from Accept-Language, else English.

DESIGN.md §7 names Babel catalogues; until the pages need plurals and a translators' workflow,
a dict per language does the job without a compilation step. Both catalogues hold the same keys
(tests/web/test_account.py checks it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib.resources import files

LANGUAGES = ("en", "fr")
DEFAULT = "en"
COOKIE = "lang"


@cache
def catalogue(lang: str) -> Mapping[str, str]:
    text = files("hirondelle.web").joinpath("locales", f"{lang}.json").read_text("utf-8")
    loaded: dict[str, str] = json.loads(text)
    return loaded


def choose(cookie: str | None, accept_language: str) -> str:
    """The language of a page: the cookie's if we have it, else the first we have of the
    browser's list by its q weights."""
    if cookie in LANGUAGES:
        return cookie
    weighted: list[tuple[float, int, str]] = []
    for index, item in enumerate(accept_language.split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().split("-")[0].lower()
        if primary in LANGUAGES and quality > 0:
            weighted.append((-quality, index, primary))
    return min(weighted)[2] if weighted else DEFAULT


def translator(lang: str) -> Mapping[str, str]:
    """The texts of `lang`, falling back to English for a key not translated yet."""
    if lang == DEFAULT:
        return catalogue(DEFAULT)
    return {**catalogue(DEFAULT), **catalogue(lang)}
