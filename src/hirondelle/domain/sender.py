"""The sender shown on the handset (TPOA, "originating address"), DESIGN §5 and manual §5.1.

A custom sender is 3 to 11 characters: an ASCII letter, then ASCII letters, digits or spaces.
Anything else, a numeric sender included ("36180", "+33611111111": the manual says a sender must
begin with a letter), gets the default sender, the platform's short code.

French rules allow a custom sender on a commercial SMS only when the recipient can still opt out:
the message must end with "STOP au <short code>", preceded by a space or a line break, where the
short code is the platform's opt-out number (36180 by default, the `stop_short_code` setting):
a STOP sent to any other digits would reach no one. Those rules cover the overseas departments
and collectivities numbered in the French plan, so they get the same treatment as metropolitan
France.
"""

from __future__ import annotations

import re
from typing import Final

DEFAULT_SENDER: Final = "36180"
#: The short code a STOP reaches, which the French "STOP au" mention must name.
DEFAULT_STOP_SHORT_CODE: Final = "36180"

# Countries where the French "STOP au" rule applies (France and its overseas departments and
# collectivities that share the French numbering plan).
STOP_MENTION_COUNTRIES: Final = frozenset({"FR", "RE", "YT", "GP", "MQ", "GF", "BL", "MF"})

_TPOA: Final = re.compile(r"[A-Za-z][A-Za-z0-9 ]{2,10}")
_STOP_MENTION: Final = re.compile(r"[ \r\n]stop +au +([0-9]+)\s*\Z", re.IGNORECASE)


def valid_tpoa(tpoa: str) -> bool:
    """3 to 11 characters: an ASCII letter first, then ASCII letters, digits or spaces."""
    return _TPOA.fullmatch(tpoa) is not None


def has_stop_mention(message: str, short_code: str = DEFAULT_STOP_SHORT_CODE) -> bool:
    """Does the message end with "STOP au <short_code>", after a space or a line break?

    "stop" and "au" match in any case; whitespace after the short code is tolerated. Other
    digits than `short_code` are not the mention.
    """
    found = _STOP_MENTION.search(message)
    return found is not None and found.group(1) == short_code


def sender_for(
    tpoa: str | None,
    message: str,
    country: str,
    default: str = DEFAULT_SENDER,
    stop_short_code: str = DEFAULT_STOP_SHORT_CODE,
) -> str:
    """The sender to use for `message` sent to a number of `country` (ISO alpha-2).

    The TPOA is taken without surrounding whitespace (a feed may pad it); an absent or invalid
    one, or a French destination without the STOP mention of `stop_short_code`, gets `default`.
    """
    if tpoa is None:
        return default
    tpoa = tpoa.strip()
    if not valid_tpoa(tpoa):
        return default
    if country.upper() in STOP_MENTION_COUNTRIES and not has_stop_mention(message, stop_short_code):
        return default
    return tpoa


def reply_address(address: str) -> str:
    """The number a reply was written to, as senders are stored: no blanks, no leading `+`."""
    return address.strip().removeprefix("+")


def answered_at(sender: str, message: str) -> str | None:
    """Where a handset's answer to this message goes: a numeric sender itself; for a name
    (which cannot be answered), the number of the message's closing "STOP au <number>"; else
    nowhere (None)."""
    address = reply_address(sender)
    if address.isascii() and address.isdigit():
        return address
    mention = _STOP_MENTION.search(message)
    return mention.group(1) if mention else None


def parse_reply_number(text: str) -> str:
    """An account's own reply number: a short code or an international number, 3 to 15 ASCII
    digits once a leading `+` and blanks are set aside; ValueError otherwise."""
    number = reply_address("".join(text.split()))
    if not (number.isascii() and number.isdigit() and 3 <= len(number) <= 15):
        raise ValueError(f"a reply number is 3 to 15 digits (a short code or +CC...), not {text!r}")
    return number
