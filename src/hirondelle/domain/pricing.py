"""What an SMS costs: whole credits per part, by destination country (DESIGN §5).

The table ships as `hirondelle/data/prices.csv` (every ISO 3166-1 alpha-2 country, France at 15
credits; the rest are defaults an operator is expected to replace) and an operator can load its
own file with the same columns: `iso,country,credits`. Lines starting with `#` are comments.
`UK` is accepted for `GB`, and codes are case-insensitive.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from os import PathLike
from pathlib import Path
from typing import Final

_ALIASES: Final = {"UK": "GB"}


class UnknownCountry(KeyError):
    """No price for this country code."""


@dataclass(frozen=True, slots=True)
class PriceTable:
    """Credits per SMS part, by ISO 3166-1 alpha-2 code (upper case)."""

    credits: Mapping[str, int]

    @classmethod
    def from_csv_text(cls, text: str) -> PriceTable:
        """Read `iso,country,credits` CSV; ValueError naming the line of a bad row."""
        rows = [
            (number, row)
            for number, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.lstrip().startswith("#")
            for row in csv.reader([line])
        ]
        if not rows:
            raise ValueError("the price table is empty")
        header = [name.strip().lower() for name in rows[0][1]]
        if "iso" not in header or "credits" not in header:
            raise ValueError("a price table needs the columns iso and credits")
        iso_column, credits_column = header.index("iso"), header.index("credits")
        credits: dict[str, int] = {}
        for number, row in rows[1:]:
            if len(row) != len(header):
                raise ValueError(f"price table line {number}: {len(header)} columns expected")
            iso = row[iso_column].strip().upper()
            if len(iso) != 2 or not iso.isascii() or not iso.isalpha():
                raise ValueError(f"price table line {number}: {iso!r} is not a 2-letter code")
            if iso in credits:
                raise ValueError(f"price table line {number}: {iso} appears twice")
            credits[iso] = _whole_credits(row[credits_column].strip(), number)
        return cls(credits)

    @classmethod
    def default(cls) -> PriceTable:
        """The table shipped with Hirondelle (read once)."""
        return _shipped_table()

    @classmethod
    def load(cls, path: str | PathLike[str]) -> PriceTable:
        """An operator's table, from a UTF-8 CSV file."""
        return cls.from_csv_text(Path(path).read_text(encoding="utf-8"))

    def credits_per_part(self, iso: str) -> int:
        """Credits for one SMS part to `iso`; UnknownCountry when the table has no price."""
        code = iso.strip().upper()
        code = _ALIASES.get(code, code)
        try:
            return self.credits[code]
        except KeyError:
            raise UnknownCountry(iso) from None

    def cost(self, iso: str, parts: int, recipients: int = 1) -> int:
        """Credits for `recipients` messages of `parts` parts each to `iso`."""
        return self.credits_per_part(iso) * parts * recipients


def parse_credits(text: str, *, signed: bool = False) -> int:
    """A credit amount: ASCII digits, with a leading `+` or `-` when `signed`; ValueError else.

    Not `int()`, which reads any Unicode decimal digits (Arabic-Indic, fullwidth) and `1_0`.
    Surrounding blanks are ignored.
    """
    digits = text.strip()
    if signed and digits[:1] in ("+", "-"):
        digits = digits[1:]
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"credits must be a whole number, not {text!r}")
    return int(text.strip())


def _whole_credits(text: str, line: int) -> int:
    try:
        return parse_credits(text)
    except ValueError as exc:
        raise ValueError(f"price table line {line}: {exc}") from None


@cache
def _shipped_table() -> PriceTable:
    text = files("hirondelle").joinpath("data", "prices.csv").read_text(encoding="utf-8")
    return PriceTable.from_csv_text(text)
