"""The text of an SMS: its encoding, its size in parts, the parts themselves, and their bytes.

A text goes as GSM 03.38 (7-bit) when every character is in the basic table or its extension
table, else as UCS-2 (DESIGN §5). Sizes are counted in the units the network counts:

- GSM: septets. A character of the extension table (`€ { } [ ] ~ \\ ^ |` and form feed) is an
  escape septet plus a code, so it counts 2 and its two septets must stay in the same part.
- UCS-2: UTF-16 code units (big-endian on the wire). A character outside the BMP (most emoji) is
  a surrogate pair, so it counts 2 and must stay in one part.

One part carries 160 septets or 70 units. A longer text is sent as concatenated parts whose user
data header takes room: 153 septets or 67 units each. `split_parts` cuts greedily (fill a part,
push a pair that doesn't fit to the next one) and `measure` counts parts with the same cuts, so
the credits charged always match the parts the SMPP layer submits.

Two readings of the tables, checked against the gsm0338 codec in the tests:

- 0x09 is `Ç` (capital), as in the 3GPP table and the Unicode mapping; lowercase `ç` is not in
  the default alphabet, so a text with `ç` goes as UCS-2 exactly as written rather than
  having its `ç` turned into `Ç`.
- The escape character U+001B itself is never treated as GSM: sent as a septet, it would make a
  receiver read the next character as an extension code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Final, Literal

Encoding = Literal["gsm7", "ucs2"]

MAX_PARTS: Final = 8

# (units in a single part, units in each part of a concatenated text)
_LIMITS: Final[dict[Encoding, tuple[int, int]]] = {"gsm7": (160, 153), "ucs2": (70, 67)}

_ESCAPE: Final = 0x1B
# The basic table, 3GPP TS 23.038 §6.2.1, in code order: the character at index N has code N.
# Index 0x1B is the escape, which stands for no character (see the module docstring).
_BASIC_TABLE: Final = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
_BASIC_CODES: Final = {char: code for code, char in enumerate(_BASIC_TABLE) if code != _ESCAPE}
# The extension table, §6.2.1.1: each character is sent as the escape followed by its code.
_EXTENSION_CODES: Final = {
    "\x0c": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
_EXTENSION_BY_CODE: Final = {code: char for char, code in _EXTENSION_CODES.items()}
_GSM_CHARS: Final = frozenset(_BASIC_CODES) | frozenset(_EXTENSION_CODES)
_EXTENSION_CHAR: Final = re.compile("|".join(map(re.escape, _EXTENSION_CODES)))

# str.translate tables from a character to its septets, one septet per character of the result.
_GSM_SEPTETS: Final = {ord(char): chr(code) for char, code in _BASIC_CODES.items()} | {
    ord(char): chr(_ESCAPE) + chr(code) for char, code in _EXTENSION_CODES.items()
}

#: SMPP 3.4 §5.2.19 data_coding values (the same numbers as TS 23.038's for these alphabets).
DATA_CODING_GSM: Final = 0x00  # SMSC default alphabet; for us GSM 03.38, one septet per octet
DATA_CODING_IA5: Final = 0x01  # IA5, i.e. ASCII
DATA_CODING_LATIN1: Final = 0x03
DATA_CODING_UCS2: Final = 0x08

_PARAM: Final = re.compile(r"#param_(\d{1,9})#", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class TextSize:
    """How big a text is once encoded: septets (GSM) or UTF-16 units (UCS-2), and parts.

    An empty text has 0 units and 0 parts: there is nothing to send (the API refuses it anyway,
    status 110, before anything is counted).
    """

    encoding: Encoding
    units: int
    parts: int


def encoding_for(text: str) -> Encoding:
    """GSM 7-bit when every character is in the GSM tables, else UCS-2."""
    return "gsm7" if _GSM_CHARS.issuperset(text) else "ucs2"


def unescape_newlines(text: str) -> str:
    """Turn the two characters backslash and `n` of a feed into a line break (DESIGN §5)."""
    return text.replace("\\n", "\n")


def merge_params(message: str, params: Mapping[int, str]) -> str:
    """Replace each `#param_N#` (any case) by `params[N]`; a missing value becomes ""."""
    if "#" not in message:
        return message
    return _PARAM.sub(lambda match: params.get(int(match.group(1)), ""), message)


#: The key that gives a recipient's `#param_N#` value: `PARAM_N`, any case (API 9.0 and REST).
PARAM_KEY_PREFIX: Final = "PARAM_"
#: Longest N of a `PARAM_N` key, in digits (int() refuses 4,300 and more).
MAX_PARAM_DIGITS: Final = 99


class BadParamKey(ValueError):
    """A key that starts as `PARAM_` but does not end in a number; the message says why."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"PARAM_N needs N in decimal digits (PARAM_1, PARAM_2, ...), "
            f"at most {MAX_PARAM_DIGITS} of them"
        )
        self.key = key


def param_index(key: str) -> int | None:
    """The N of a recipient's `PARAM_N` key (any case), None for a key of another name.

    N is read as `#param_N#` reads it: decimal digits (str.isdecimal, not str.isdigit: "²" is a
    digit that int() refuses). `PARAM_` followed by anything else raises BadParamKey; each API
    decides whether that refuses the request or leaves the key out.
    """
    if key[: len(PARAM_KEY_PREFIX)].upper() != PARAM_KEY_PREFIX:
        return None
    number = key[len(PARAM_KEY_PREFIX) :]
    if not (number.isdecimal() and len(number) <= MAX_PARAM_DIGITS):
        raise BadParamKey(key)
    return int(number)


_FIELD: Final = re.compile(r"#([^#\s][^#\n]{0,63})#")


def merge_fields(message: str, fields: Mapping[str, str]) -> str:
    """Replace each `#FieldName#` naming one of `fields` (any case) by its value.

    For messages sent to a contact list: its fields serve as merge fields. A `#...#` that names
    no field is left as written (it may be plain text, or a `#param_N#`).
    """
    if "#" not in message or not fields:
        return message
    by_name = {name.casefold(): value for name, value in fields.items()}

    def value_of(match: re.Match[str]) -> str:
        return by_name.get(match.group(1).strip().casefold(), match.group(0))

    return _FIELD.sub(value_of, message)


def measure(text: str) -> TextSize:
    """The encoding, units and number of parts of `text`, as `split_parts` would cut it."""
    encoding = encoding_for(text)
    units = _units(text, encoding)
    return TextSize(encoding, units, len(_part_starts(text, encoding, units)))


def split_parts(text: str) -> list[str]:
    """The parts to submit: one for a short text, else greedy parts of 153 septets / 67 units.

    No part ends inside an escape pair or a surrogate pair. `"".join(parts) == text` and
    `len(parts) == measure(text).parts` always hold.
    """
    encoding = encoding_for(text)
    bounds = [*_part_starts(text, encoding, _units(text, encoding)), len(text)]
    return [text[start:end] for start, end in pairwise(bounds)]


def too_long(text: str) -> bool:
    """More than MAX_PARTS parts (the API answers status 111)."""
    # Every character takes at least one unit, and 8 parts of UCS-2 hold fewer than 8 of GSM.
    if len(text) > MAX_PARTS * _LIMITS["gsm7"][1]:
        return True
    return measure(text).parts > MAX_PARTS


def _units(text: str, encoding: Encoding, start: int = 0, end: int | None = None) -> int:
    """Septets or UTF-16 units of text[start:end]."""
    if encoding == "gsm7":
        end = len(text) if end is None else end
        return end - start + len(_EXTENSION_CHAR.findall(text, start, end))
    return len(text[start:end].encode("utf-16-le", "surrogatepass")) // 2


def _part_starts(text: str, encoding: Encoding, units: int) -> list[int]:
    """Where each part begins in `text`: [] for an empty text, [0] for a single part."""
    single, per_part = _LIMITS[encoding]
    if units <= single:
        return [0] if text else []
    starts = []
    start = 0
    while start < len(text):
        starts.append(start)
        # The longest part from `start`: begin with one character per unit, then drop the
        # characters that overflow. Each is 1 or 2 units, so dropping half the excess (rounded
        # up) never drops more than needed; it ends on the greedy cut, before a pair that
        # doesn't fit.
        end = min(len(text), start + per_part)
        while (excess := _units(text, encoding, start, end) - per_part) > 0:
            end -= (excess + 1) // 2
        start = end
    return starts


def encode_gsm7_unpacked(text: str) -> bytes:
    """One septet per byte, an extension character as 0x1B then its code.

    Raises ValueError when a character is not in the GSM tables (see `encoding_for`).
    """
    if not _GSM_CHARS.issuperset(text):
        bad = next(char for char in text if char not in _GSM_CHARS)
        raise ValueError(f"not a GSM 03.38 character: {bad!r}")
    return text.translate(_GSM_SEPTETS).encode("latin-1")


def decode_gsm7_unpacked(data: bytes) -> str:
    """The text of unpacked septets, as received in a `deliver_sm`.

    Following TS 23.038 §6.2.1.1, an escape before a code the extension table lacks gives that
    code's basic character, and a double escape gives a space. A trailing lone escape is dropped.
    Raises ValueError on a byte above 0x7F (not a septet).
    """
    chars: list[str] = []
    escaped = False
    for byte in data:
        if byte > 0x7F:
            raise ValueError(f"not a GSM 7-bit septet: {byte:#04x}")
        if escaped:
            escaped = False
            if byte == _ESCAPE:
                chars.append(" ")
            else:
                chars.append(_EXTENSION_BY_CODE.get(byte, _BASIC_TABLE[byte]))
        elif byte == _ESCAPE:
            escaped = True
        else:
            chars.append(_BASIC_TABLE[byte])
    return "".join(chars)


def encode_ucs2(text: str) -> bytes:
    """UTF-16 big-endian, as SMPP data_coding 8 carries it (astral characters as pairs)."""
    return text.encode("utf-16-be", "surrogatepass")


def decode_ucs2(data: bytes) -> str:
    """The text of UTF-16 big-endian bytes; ValueError on an odd length."""
    return data.decode("utf-16-be", "surrogatepass")


def decode_text(data: bytes, data_coding: int) -> str:
    """The text of a short message by its data_coding; undecodable octets fall back to Latin-1,
    never raise."""
    try:
        if data_coding == DATA_CODING_UCS2:
            return decode_ucs2(data)
        if data_coding == DATA_CODING_GSM or 0xF0 <= data_coding <= 0xF3:  # GSM, with class
            return decode_gsm7_unpacked(data)
        if data_coding == DATA_CODING_IA5:
            return data.decode("ascii")
    except ValueError:
        pass
    return data.decode("latin-1")
