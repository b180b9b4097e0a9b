"""The French catalogue covers every text of the web pages, and the pages use it."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from hirondelle.web import i18n
from hirondelle.web.pages import environment

WEB = Path(str(files("hirondelle.web")))
METHODS = [("templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def _texts_in_the_code() -> set[str]:
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        WEB, METHODS, OPTIONS, keywords=keywords
    ):
        found.update([message] if isinstance(message, str) else message)
    return found


def test_every_text_of_the_pages_has_a_french_translation() -> None:
    texts = _texts_in_the_code()
    assert "Sign in" in texts and "Wrong login or password." in texts  # the extraction works
    source = WEB / "locales" / "fr" / "LC_MESSAGES" / "messages.po"
    with source.open("rb") as po:
        catalog = read_po(po)
    missing = sorted(
        text
        for text in texts
        if (entry := catalog.get(text)) is None or not entry.string or entry.fuzzy
    )
    assert not missing, f"run `make translations` and translate: {missing}"


def test_a_template_renders_in_french() -> None:
    html = environment("fr").from_string('{{ _("Sign in") }}').render()
    assert html == "Se connecter"
    assert environment("en").from_string('{{ _("Sign in") }}').render() == "Sign in"


def test_numbers_and_dates_follow_the_language() -> None:
    assert i18n.number(1234.5, "fr") == "1\u202f234,5"
    assert i18n.number(1234.5, "en") == "1,234.5"
    moment = datetime(2026, 7, 1, 22, 30, tzinfo=UTC)  # 00:30 on 2 July in Paris
    assert i18n.when(moment, "fr") == "02/07/2026 00:30"
    assert i18n.when(moment, "en", "UTC") == "01/07/2026, 22:30"
