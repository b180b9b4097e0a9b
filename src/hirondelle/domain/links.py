"""Short links: which URLs a text holds, which targets may be shortened, and the codes.

Pure rules, no I/O. A code is drawn with `secrets` from 62 letters and digits: 8 characters give
62**8 ≈ 2.2e14 codes, so a code cannot be guessed, and a collision (rare) is retried by the store.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable
from typing import Final
from urllib.parse import urlsplit

CODE_ALPHABET: Final = string.ascii_letters + string.digits
CODE_LENGTH: Final = 8
MIN_CODE_LENGTH: Final = 7
MAX_CODE_LENGTH: Final = 16
MAX_URL_LENGTH: Final = 2048

#: Path under the public base URL where short links are served.
SHORT_PATH: Final = "/s/"

_CODE: Final = re.compile(rf"[A-Za-z0-9]{{{MIN_CODE_LENGTH},{MAX_CODE_LENGTH}}}")

# An http(s) URL in running text: the scheme, then anything up to a blank. Punctuation that ends a
# sentence is trimmed afterwards (see `_trim`), as messaging apps do when they make links clickable.
_URL_IN_TEXT: Final = re.compile(r"\bhttps?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING: Final = ".,;:!?…»\"'"
_PAIRS: Final = {")": "(", "]": "[", "}": "{"}


class BadUrl(ValueError):
    """A URL that cannot be shortened; the message says why, in words a client can show."""


def new_code(length: int = CODE_LENGTH) -> str:
    """A fresh, unguessable code."""
    if not MIN_CODE_LENGTH <= length <= MAX_CODE_LENGTH:
        raise ValueError(f"code length must be {MIN_CODE_LENGTH}..{MAX_CODE_LENGTH}")
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def is_code(value: str) -> bool:
    """Whether `value` has the shape of a code (checked before any lookup)."""
    return _CODE.fullmatch(value) is not None


def short_url(base_url: str, code: str) -> str:
    return base_url.rstrip("/") + SHORT_PATH + code


def _trim(url: str) -> str:
    """Drop sentence punctuation and unbalanced closing brackets from the end of a URL."""
    while url:
        last = url[-1]
        unbalanced = last in _PAIRS and url.count(last) > url.count(_PAIRS[last])
        if last not in _TRAILING and not unbalanced:
            break
        url = url[:-1]
    return url


def _spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _URL_IN_TEXT.finditer(text):
        url = _trim(match.group())
        if len(url) > len("https://") and urlsplit(url).hostname:
            spans.append((match.start(), match.start() + len(url)))
    return spans


def find_urls(text: str) -> list[str]:
    """The http and https URLs of a message, in order of appearance (repeats included)."""
    return [text[start:end] for start, end in _spans(text)]


def replace_urls(text: str, replace: Callable[[str], str]) -> str:
    """`text` with every URL that `find_urls` sees replaced by `replace(url)`."""
    out, position = [], 0
    for start, end in _spans(text):
        out += [text[position:start], replace(text[start:end])]
        position = end
    out.append(text[position:])
    return "".join(out)


def check_target(url: str) -> str:
    """The URL to shorten, stripped, or BadUrl: only absolute http(s) URLs with a host."""
    url = url.strip()
    if not url:
        raise BadUrl("The URL is empty")
    if len(url) > MAX_URL_LENGTH:
        raise BadUrl(f"The URL is longer than {MAX_URL_LENGTH} characters")
    if any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in url):
        raise BadUrl("The URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BadUrl(f"The URL is malformed: {exc}") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise BadUrl("Only http and https URLs can be shortened")
    if not parts.hostname:
        raise BadUrl("The URL has no host name")
    if parts.username is not None or parts.password is not None:
        raise BadUrl("URLs with a user name or password cannot be shortened")
    if port == 0:
        raise BadUrl("The URL has an invalid port")
    return url


_BOTS: Final = re.compile(
    r"bot|crawl|spider|slurp|preview|facebookexternalhit|whatsapp|telegram|skype|curl|wget|"
    r"python|httpx|okhttp|java/|go-http|headless|lighthouse|monitor",
    re.IGNORECASE,
)
_MOBILE: Final = re.compile(
    r"mobi|android|iphone|ipod|ipad|windows phone|blackberry|opera mini|kaios", re.IGNORECASE
)
_DESKTOP: Final = re.compile(r"windows nt|macintosh|mac os x|x11|linux|cros", re.IGNORECASE)


def agent_class(user_agent: str | None) -> str:
    """A coarse class of a User-Agent: `bot`, `mobile`, `desktop` or `other`."""
    if not user_agent:
        return "other"
    if _BOTS.search(user_agent):
        return "bot"
    if _MOBILE.search(user_agent):
        return "mobile"
    if _DESKTOP.search(user_agent):
        return "desktop"
    return "other"
