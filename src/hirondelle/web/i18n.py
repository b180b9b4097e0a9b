"""French and English for the web pages, with Babel: the templates and web/*.py are written in
English (`_("Sign in")` in a template, `N_("…")` in Python for a text translated when it is
shown), and `web/locales/fr/LC_MESSAGES/messages.po` holds the French. The language of a page
is the `lang` cookie's, else the browser's Accept-Language choice, else English.

The catalogue is read from the .po file at start-up (no compiled .mo to keep in step);
`make translations` extracts new texts into it.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from importlib.resources import files
from io import BytesIO
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

LANGUAGES = ("en", "fr")
DEFAULT = "en"
COOKIE = "lang"
DOMAIN = "messages"


def N_(text: str) -> str:
    """Marks `text` for extraction; it is translated where it is shown (`_(error)`)."""
    return text


@cache
def translations(lang: str) -> NullTranslations:
    """The gettext translations of `lang` (English: the texts as written)."""
    if lang == DEFAULT:
        return NullTranslations()
    source = files("hirondelle.web").joinpath("locales", lang, "LC_MESSAGES", f"{DOMAIN}.po")
    with source.open("rb") as po:
        catalog = read_po(po, locale=lang, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


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


@cache
def _locale(lang: str) -> Locale:
    return Locale.parse("en_GB" if lang == "en" else lang)


def number(value: float | int, lang: str) -> str:
    """1 234,5 in French, 1,234.5 in English."""
    return str(format_decimal(value, locale=_locale(lang)))


def when(moment: datetime, lang: str, time_zone: str = "Europe/Paris") -> str:
    """A date and time shown in the account's time zone, in the page's language."""
    local = moment.astimezone(ZoneInfo(time_zone))
    return str(format_datetime(local, "short", locale=_locale(lang)))
