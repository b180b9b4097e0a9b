"""Opt-out and opt-in keywords in replies (MO): STOP puts the sender on the blacklist, START or
REABO takes it off (manual, glossary "STOP").

The rule is meant to be simple to state, to catch the ways people actually write an opt-out,
and not to fire on ordinary words:

- The reply is cut into words: runs of letters and digits, where a hyphen or an apostrophe
  between two of them joins them into one word ("non-stop", "l'arrêt"). Case and accents do not
  matter ("Arrêt" is ARRET).
- A keyword counts when it is the first word of the reply, or any word of a short reply (at
  most SHORT_REPLY_WORDS words): "STOP", "stop!", "Stop merci", "Merci, stop", "STOP SMS".
- "non-stop", "stopper" or "STOP2" are other words, and a keyword deep inside a long reply
  ("... je ne peux pas stop ... ") is not taken as an instruction.
- The first keyword in the reply decides ("STOP START" is a stop).

Stop words: STOP, ARRET (the French word people also send). Start words: START, REABO.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final, Literal

Keyword = Literal["stop", "start"]

SHORT_REPLY_WORDS: Final = 4

KEYWORDS: Final[dict[str, Keyword]] = {
    "STOP": "stop",
    "ARRET": "stop",
    "START": "start",
    "REABO": "start",
}

_WORD: Final = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")


def keyword_of(message: str) -> Keyword | None:
    """The keyword a reply carries, "stop" or "start", or None (rule in the module docstring)."""
    words = _WORD.findall(_plain(message))
    if len(words) > SHORT_REPLY_WORDS:
        words = words[:1]
    for word in words:
        keyword = KEYWORDS.get(word)
        if keyword is not None:
            return keyword
    return None


def _plain(message: str) -> str:
    """Upper case without accents: "Arrêt" becomes "ARRET"."""
    decomposed = unicodedata.normalize("NFKD", message)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).upper()
