import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hirondelle.domain import numbers
from hirondelle.domain.numbers import InvalidNumber, Mobile, parse_mobile, parse_mobiles

FR_MOBILE = Mobile("33611111111", "FR")


@pytest.mark.parametrize(
    "raw",
    [
        "0611111111",
        "06 11 11 11 11",
        "06.11.11.11.11",
        "06-11-11-11-11",
        "(06) 11 11 11 11",
        "  0611111111  ",
        "33611111111",
        "+33611111111",
        "+33 6 11 11 11 11",
        "+33 (0)6 11 11 11 11",
        "0033611111111",
        "00 33 6 11 11 11 11",
        "06\u00a011\u00a011\u00a011\u00a011",
    ],
)
def test_french_mobile_forms(raw: str) -> None:
    assert parse_mobile(raw) == FR_MOBILE


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0756123456", Mobile("33756123456", "FR")),
        ("+33 7 56 12 34 56", Mobile("33756123456", "FR")),
        # overseas departments dialled through the French national plan
        ("0692123456", Mobile("262692123456", "RE")),
        ("0639012345", Mobile("262639012345", "YT")),
        ("0690001234", Mobile("590690001234", "GP")),
        ("+262 692 12 34 56", Mobile("262692123456", "RE")),
        # abroad, with '+', '00' or bare
        ("+4915112345678", Mobile("4915112345678", "DE")),
        ("004915112345678", Mobile("4915112345678", "DE")),
        ("4915112345678", Mobile("4915112345678", "DE")),
        ("+32 470 12 34 56", Mobile("32470123456", "BE")),
        ("+39 312 345 6789", Mobile("393123456789", "IT")),
        ("+86 138 0013 8000", Mobile("8613800138000", "CN")),
        ("+7 912 345 67 89", Mobile("79123456789", "RU")),
        # "fixed line or mobile": the US plan does not tell them apart
        ("+1 202 555 0123", Mobile("12025550123", "US")),
        ("12025550123", Mobile("12025550123", "US")),
        # not classified by phonenumbers, but a possible length: passes (no check abroad)
        ("+1 999 555 0123", Mobile("19995550123", "US")),
    ],
)
def test_accepted_numbers(raw: str, expected: Mobile) -> None:
    assert parse_mobile(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "abc",
        "12",
        "+",
        "06 11 11 11 1x",
        "06111111111111",  # too long for France
        "061111111",  # too short
        "0123456789",  # Paris landline
        "+33 1 23 45 67 89",
        "0912345678",  # French VoIP: not a mobile
        "0800123456",  # French toll free
        "0700000000",  # 070, 071 and 072 are not allocated to mobiles
        "0712345678",
        "0729999999",
        "+33 7 20 00 00 00",
        "+262 262 12 34 56",  # Réunion landline
        "+44 20 7946 0958",  # London landline
        "+39 06 1234 5678",  # Rome landline
        "+3861234",  # too short for Slovenia
        "+32 470 12 34 567",  # too long for Belgium
        "+44 7911 1234567",  # too long for the United Kingdom
        "+882 1234 5678",  # international network: no country to price
        "+999 1234 5678",  # no such country code
        "33+611111111",
        "++33611111111",
    ],
)
def test_rejected_numbers(raw: str) -> None:
    with pytest.raises(InvalidNumber):
        parse_mobile(raw)


def test_invalid_number_is_a_value_error() -> None:
    assert issubclass(InvalidNumber, ValueError)


def test_mobile_is_frozen_and_hashable() -> None:
    assert len({FR_MOBILE, Mobile("33611111111", "FR")}) == 1
    with pytest.raises(AttributeError):
        FR_MOBILE.digits = "1"  # type: ignore[misc]


def test_parse_mobiles_dedupes_in_first_seen_order() -> None:
    valid, invalid = parse_mobiles(
        ["0622222222", " abc ", "+33611111111", "06 22 22 22 22", "0033611111111", "12", "abc"]
    )
    assert valid == [Mobile("33622222222", "FR"), Mobile("33611111111", "FR")]
    assert invalid == ["abc", "12", "abc"]


def test_parse_mobiles_skips_blank_entries() -> None:
    valid, invalid = parse_mobiles(["0611111111", "", " ", ""])  # from "0611111111;; ;"
    assert valid == [FR_MOBILE]
    assert invalid == []


def test_parse_mobiles_of_nothing() -> None:
    assert parse_mobiles([]) == ([], [])


def _slow_path(raw: str) -> Mobile | str:
    """phonenumbers' answer without the fast path, or the error's class name."""
    try:
        return numbers._parse_with_phonenumbers(raw, numbers._SEPARATORS.sub("", raw))
    except InvalidNumber:
        return "InvalidNumber"


def _fast_path(raw: str) -> Mobile | str:
    try:
        return parse_mobile(raw)
    except InvalidNumber:
        return "InvalidNumber"


@settings(max_examples=500)
@given(
    prefix=st.sampled_from(["0", "33", "+33", "0033"]),
    first=st.sampled_from("67"),
    rest=st.text(alphabet="0123456789", min_size=8, max_size=8),
    separator=st.sampled_from(["", " ", ".", "-"]),
)
def test_fast_path_agrees_with_phonenumbers(
    prefix: str, first: str, rest: str, separator: str
) -> None:
    raw = prefix + first + separator.join([rest[:2], rest[2:4], rest[4:6], rest[6:]])
    assert _fast_path(raw) == _slow_path(raw)


def test_fast_path_takes_the_common_forms() -> None:
    for raw in ["0611111111", "33611111111", "+33611111111", "0033611111111", "0756123456"]:
        assert numbers._FRENCH_MOBILE.fullmatch(raw) is not None, raw
    # numbers phonenumbers does not call French mobiles are left to the slow path
    for raw in ["0700000000", "0692123456", "06111111111"]:
        assert numbers._FRENCH_MOBILE.fullmatch(raw) is None, raw


@pytest.mark.parametrize(
    "raw", ["0611111111", "0756123456", "+33611111111", "0692123456", "0700000000"]
)
def test_slow_path_gives_the_same_answers_on_samples(raw: str) -> None:
    assert _fast_path(raw) == _slow_path(raw)
