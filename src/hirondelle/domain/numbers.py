"""Recipient phone numbers: what the API accepts and how it writes them back.

A number is accepted in the forms the manual lists (DESIGN §5): French national `06…`/`07…`,
`336…`, `+336…`, `00336…`, and any international `+CC…`, `00CC…` or bare `CC…`, with spaces,
dots, dashes, slashes or parentheses anywhere. It comes back as international digits without `+`.

The rules, as phonenumbers (libphonenumber) sees the number:

- France and the overseas departments dialled through the French national plan (a national
  `0692…` is a Réunion mobile, +262 692…) take only valid mobile numbers: the manual lists the
  `06`/`07` forms and nothing else for France.
- Any other country: a number phonenumbers calls a fixed line is refused; any other valid number
  passes, and so does one it cannot classify but whose length is possible for the country (the
  manual does no length check abroad; we only keep out what cannot be a number there).
- A number with no country (international networks such as +882) is refused: it cannot be priced.

`parse_mobile` runs for every recipient of a campaign, so the common French mobile forms take a
regex fast path that gives the same answer as the phonenumbers path (a test checks both agree).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType, ValidationResult


@dataclass(frozen=True, slots=True)
class Mobile:
    """A recipient: international digits without '+' and the ISO 3166 alpha-2 country."""

    digits: str  # e.g. "33611111111"
    country: str  # e.g. "FR"


class InvalidNumber(ValueError):
    """The input is not a mobile number we can send to."""


# Regions that share France's national numbering plan: from France they are dialled 0 + their
# national number, so a bare national number may belong to any of them. France comes first.
_FRENCH_PLAN = ("FR", "RE", "YT", "GP", "MQ", "GF", "BL", "MF")
_FRENCH_PLAN_SET = frozenset(_FRENCH_PLAN)

_SEPARATORS = re.compile(r"[\s.\-/()]+")
_DIALLABLE = re.compile(r"\+?\d+")


def _french_mobile_pattern() -> re.Pattern[str]:
    """The fast path's regex, built from phonenumbers' own FR mobile pattern so they can't drift."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("FR")
    mobile = metadata.mobile if metadata is not None else None
    national = mobile.national_number_pattern if mobile is not None else None
    if national is None:
        raise RuntimeError("phonenumbers has no pattern for French mobiles")
    return re.compile(rf"(?:\+33|0033|33|0)({national})")


_FRENCH_MOBILE = _french_mobile_pattern()


def parse_mobile(raw: str) -> Mobile:
    """The mobile that `raw` denotes, or InvalidNumber."""
    cleaned = _SEPARATORS.sub("", raw)
    fast = _FRENCH_MOBILE.fullmatch(cleaned)
    if fast is not None:
        return Mobile("33" + fast.group(1), "FR")
    return _parse_with_phonenumbers(raw, cleaned)


def _parse_with_phonenumbers(raw: str, cleaned: str) -> Mobile:
    """The general path; `_FRENCH_MOBILE` must agree with it on every string it matches."""
    if _DIALLABLE.fullmatch(cleaned) is None:
        raise InvalidNumber(f"not a phone number: {raw!r}")
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    elif cleaned.startswith("0"):
        return _parse_french_national(raw, cleaned)
    elif not cleaned.startswith("+"):
        cleaned = "+" + cleaned
    number = _parse(raw, cleaned, None)
    # An invalid number of a code shared by several countries (+1, +44, +590...) has no region
    # of its own: it gets the code's main country.
    region = phonenumbers.region_code_for_number(number) or (
        phonenumbers.region_code_for_country_code(number.country_code or 0)
    )
    return _checked(raw, number, region)


def _parse(raw: str, text: str, region: str | None) -> phonenumbers.PhoneNumber:
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise InvalidNumber(f"not a phone number: {raw!r}") from exc


def _parse_french_national(raw: str, cleaned: str) -> Mobile:
    """`0…`: a number of France or of an overseas department sharing its plan."""
    for region in _FRENCH_PLAN:
        number = _parse(raw, cleaned, region)
        if phonenumbers.is_valid_number_for_region(number, region):
            return _checked(raw, number, region)
    raise InvalidNumber(f"not a French mobile number: {raw!r}")


def _checked(raw: str, number: phonenumbers.PhoneNumber, region: str) -> Mobile:
    """The Mobile for `number` of `region`, if the rules of the module docstring let it pass."""
    kind = phonenumbers.number_type(number)  # UNKNOWN when the number is not valid
    if region in _FRENCH_PLAN_SET:
        if kind != PhoneNumberType.MOBILE:
            raise InvalidNumber(f"not a French mobile number: {raw!r}")
    elif kind == PhoneNumberType.FIXED_LINE:
        raise InvalidNumber(f"a landline, not a mobile number: {raw!r}")
    elif kind == PhoneNumberType.UNKNOWN and (
        phonenumbers.is_possible_number_with_reason(number) != ValidationResult.IS_POSSIBLE
    ):
        raise InvalidNumber(f"not a phone number: {raw!r}")
    if len(region) != 2 or not region.isalpha():  # "001": international networks, "ZZ": unknown
        raise InvalidNumber(f"no country for this number: {raw!r}")
    return _mobile(number, region)


def _mobile(number: phonenumbers.PhoneNumber, region: str) -> Mobile:
    digits = f"{number.country_code}{phonenumbers.national_significant_number(number)}"
    return Mobile(digits, region)


def parse_mobiles(raws: Iterable[str]) -> tuple[list[Mobile], list[str]]:
    """Valid mobiles in first-seen order without duplicates, and the invalid inputs in order.

    Invalid inputs come back stripped; blank ones (from `a;;b` or a trailing `;`) are skipped,
    since nobody meant them as a number.
    """
    valid: list[Mobile] = []
    invalid: list[str] = []
    seen: set[str] = set()
    for raw in raws:
        stripped = raw.strip()
        if not stripped:
            continue
        try:
            mobile = parse_mobile(stripped)
        except InvalidNumber:
            invalid.append(stripped)
            continue
        if mobile.digits not in seen:
            seen.add(mobile.digits)
            valid.append(mobile)
    return valid, invalid
