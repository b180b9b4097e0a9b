from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest

from hirondelle.domain.dates import BadDate, format_local, parse_send_date

PARIS = "Europe/Paris"
NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)  # 10:00 in Paris


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-06-01 12:30:15", datetime(2025, 6, 1, 10, 30, 15, tzinfo=UTC)),  # CEST, +2
        ("2025-12-24 18:00:00", datetime(2025, 12, 24, 17, 0, tzinfo=UTC)),  # CET, +1
        ("2025-06-01 12:30", datetime(2025, 6, 1, 10, 30, tzinfo=UTC)),
        ("  2025-06-01 12:30:00 \n", datetime(2025, 6, 1, 10, 30, tzinfo=UTC)),
        ("2025-06-01  12:30:00", datetime(2025, 6, 1, 10, 30, tzinfo=UTC)),
        ("2028-02-29 00:00:00", datetime(2028, 2, 28, 23, 0, tzinfo=UTC)),
    ],
)
def test_parse_in_the_account_time_zone(value: str, expected: datetime) -> None:
    parsed = parse_send_date(value, PARIS, NOW)
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is UTC


def test_other_time_zones() -> None:
    assert parse_send_date("2025-06-01 12:00:00", "America/New_York", NOW) == datetime(
        2025, 6, 1, 16, 0, tzinfo=UTC
    )
    assert parse_send_date("2025-06-01 12:00:00", "UTC", NOW) == datetime(
        2025, 6, 1, 12, 0, tzinfo=UTC
    )


@pytest.mark.parametrize("value", [None, "", "   "])
def test_no_date(value: str | None) -> None:
    assert parse_send_date(value, PARIS, NOW) is None


@pytest.mark.parametrize(
    "value",
    [
        "2025-06-01",
        "12:30:00",
        "2025/06/01 12:30:00",
        "01-06-2025 12:30:00",
        "2025-06-01T12:30:00",
        "2025-6-1 12:30:00",
        "2025-06-01 12:30:00.5",
        "2025-06-01 12:30:00+02:00",
        "2025-06-01 12h30",
        "2011-11-05 3:10:00 p.m.",
        "tomorrow",
        "2025-06-01 12:30:00 x",
        "２０２５-06-01 12:30:00",  # fullwidth digits
    ],
)
def test_malformed_dates(value: str) -> None:
    with pytest.raises(BadDate):
        parse_send_date(value, PARIS, NOW)


@pytest.mark.parametrize(
    "value",
    [
        "2025-02-30 12:00:00",
        "2025-13-01 12:00:00",
        "2025-00-10 12:00:00",
        "2025-06-01 24:00:00",
        "2025-06-01 12:60:00",
        "2025-06-01 12:00:60",
        "2027-02-29 12:00:00",
        "0000-01-01 00:00:00",
    ],
)
def test_impossible_dates(value: str) -> None:
    with pytest.raises(BadDate):
        parse_send_date(value, PARIS, NOW)


def test_bad_date_is_a_value_error() -> None:
    assert issubclass(BadDate, ValueError)


def test_a_past_date_means_now() -> None:
    assert parse_send_date("2020-01-01 00:00:00", PARIS, NOW) == NOW
    assert parse_send_date("2025-06-01 09:59:59", PARIS, NOW) == NOW
    assert parse_send_date("2025-06-01 10:00:00", PARIS, NOW) == NOW
    assert parse_send_date("2025-06-01 10:00:01", PARIS, NOW) == datetime(
        2025, 6, 1, 8, 0, 1, tzinfo=UTC
    )


def test_now_in_another_zone_comes_back_in_utc() -> None:
    now_paris = NOW.astimezone(ZoneInfo(PARIS))
    parsed = parse_send_date("2020-01-01 00:00:00", PARIS, now_paris)
    assert parsed == NOW
    assert parsed is not None and parsed.tzinfo is UTC


def test_daylight_saving_gaps_and_repeats() -> None:
    before = datetime(2025, 1, 1, tzinfo=UTC)
    # 02:30 does not exist on 2025-03-30 in Paris: read with the winter offset, 03:30 CEST
    assert parse_send_date("2025-03-30 02:30:00", PARIS, before) == datetime(
        2025, 3, 30, 1, 30, tzinfo=UTC
    )
    # 02:30 happens twice on 2025-10-26: the first one, still CEST
    assert parse_send_date("2025-10-26 02:30:00", PARIS, before) == datetime(
        2025, 10, 26, 0, 30, tzinfo=UTC
    )


def test_unknown_time_zone_is_a_configuration_error() -> None:
    with pytest.raises(ZoneInfoNotFoundError):
        parse_send_date("2025-06-01 12:00:00", "Mars/Olympus_Mons", NOW)


def test_format_local() -> None:
    assert format_local(datetime(2025, 6, 1, 10, 30, 5, tzinfo=UTC), PARIS) == "2025-06-01 12:30:05"
    assert format_local(datetime(2025, 12, 24, 17, 0, tzinfo=UTC), PARIS) == "2025-12-24 18:00:00"
    assert format_local(datetime(2025, 6, 1, 10, 30, tzinfo=UTC), "UTC") == "2025-06-01 10:30:00"


def test_format_then_parse_round_trip() -> None:
    when = datetime(2026, 7, 14, 20, 15, 30, tzinfo=UTC)
    assert parse_send_date(format_local(when, PARIS), PARIS, NOW) == when
