from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from hirondelle.domain.sending_hours import (
    DEFAULT_WINDOW,
    BadWindow,
    easter,
    french_holidays,
    next_allowed,
    parse_window,
)

PARIS = ZoneInfo("Europe/Paris")
WINDOW = parse_window(DEFAULT_WINDOW)


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS).astimezone(UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
        (2028, date(2028, 4, 16)),
        (2029, date(2029, 4, 1)),
        (2030, date(2030, 4, 21)),
        (2000, date(2000, 4, 23)),
        (2019, date(2019, 4, 21)),
    ],
)
def test_easter(year: int, expected: date) -> None:
    assert easter(year) == expected


@pytest.mark.parametrize(
    ("year", "easter_monday", "ascension", "whit_monday"),
    [
        (2026, date(2026, 4, 6), date(2026, 5, 14), date(2026, 5, 25)),
        (2027, date(2027, 3, 29), date(2027, 5, 6), date(2027, 5, 17)),
        (2028, date(2028, 4, 17), date(2028, 5, 25), date(2028, 6, 5)),
        (2029, date(2029, 4, 2), date(2029, 5, 10), date(2029, 5, 21)),
        (2030, date(2030, 4, 22), date(2030, 5, 30), date(2030, 6, 10)),
    ],
)
def test_french_holidays(
    year: int, easter_monday: date, ascension: date, whit_monday: date
) -> None:
    fixed = {(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)}
    expected = {date(year, m, d) for m, d in fixed} | {easter_monday, ascension, whit_monday}
    assert french_holidays(year) == expected
    assert len(french_holidays(year)) == 11


def test_window_parsing() -> None:
    window = parse_window("Mon-Sat 08:00-20:00")
    assert window.days == frozenset(range(6))
    assert (window.start.hour, window.end.hour) == (8, 20)
    assert parse_window(" mon,wed , fri  09:30-12:00 ").days == frozenset({0, 2, 4})
    assert parse_window("Fri-Mon 10:00-11:00").days == frozenset({4, 5, 6, 0})
    assert str(parse_window("mon-sat 8:00-20:00")) == "Mon-Sat 08:00-20:00"
    assert str(parse_window("Mon,Wed,Fri 09:30-12:00")) == "Mon,Wed,Fri 09:30-12:00"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Mon-Sat",
        "08:00-20:00",
        "Xyz 08:00-20:00",
        "Mon 20:00-08:00",
        "Mon 08:00-08:00",
        "Mon 25:00-26:00",
        "Mon 08:00-20:61",
        "Mon-Sat 08:00-20:00 extra",
    ],
)
def test_bad_windows(text: str) -> None:
    with pytest.raises(BadWindow):
        parse_window(text)


def test_inside_the_window_leaves_at_once() -> None:
    wednesday = paris(2026, 5, 20, 10, 0, 17)
    assert next_allowed(wednesday, WINDOW, french_holidays) == wednesday


def test_saturday_night_before_whit_monday_waits_for_tuesday() -> None:
    saturday = paris(2026, 5, 23, 21, 30)
    assert next_allowed(saturday, WINDOW, french_holidays) == paris(2026, 5, 26, 8, 0)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (paris(2026, 5, 20, 7, 59, 59), paris(2026, 5, 20, 8, 0)),  # before opening
        (paris(2026, 5, 20, 20, 0), paris(2026, 5, 21, 8, 0)),  # closing is exclusive
        (paris(2026, 5, 20, 19, 59, 59), paris(2026, 5, 20, 19, 59, 59)),
        (paris(2026, 5, 13, 22, 0), paris(2026, 5, 15, 8, 0)),  # Ascension Thursday
        (paris(2026, 12, 24, 20, 30), paris(2026, 12, 26, 8, 0)),  # Christmas, then Saturday
        (paris(2026, 12, 31, 23, 0), paris(2027, 1, 2, 8, 0)),  # New Year, across years
        (paris(2026, 7, 14, 12, 0), paris(2026, 7, 15, 8, 0)),  # Bastille Day
        (paris(2027, 5, 8, 9, 0), paris(2027, 5, 10, 8, 0)),  # 8 May on a Saturday
    ],
)
def test_next_allowed(moment: datetime, expected: datetime) -> None:
    assert next_allowed(moment, WINDOW, french_holidays) == expected


def test_around_the_spring_switch() -> None:
    # Saturday 28 March 2026, CET (UTC+1); the clocks go forward on Sunday; Monday is CEST.
    saturday = paris(2026, 3, 28, 20, 30)
    assert saturday == datetime(2026, 3, 28, 19, 30, tzinfo=UTC)
    assert next_allowed(saturday, WINDOW, french_holidays) == datetime(
        2026, 3, 30, 6, 0, tzinfo=UTC
    )
    # A window that opens in the hour the clocks skip opens when the clocks reach it.
    night = parse_window("Sun 02:30-04:00")
    opened = next_allowed(datetime(2026, 3, 28, 12, 0, tzinfo=UTC), night, french_holidays)
    assert opened == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST
    assert opened.astimezone(PARIS).hour == 3


def test_around_the_autumn_switch() -> None:
    # Saturday 24 October 2026 at 20:00 CEST (UTC+2); Monday 26 is CET (UTC+1).
    saturday = paris(2026, 10, 24, 20, 0)
    assert saturday == datetime(2026, 10, 24, 18, 0, tzinfo=UTC)
    assert next_allowed(saturday, WINDOW, french_holidays) == datetime(
        2026, 10, 26, 7, 0, tzinfo=UTC
    )
    # 19:30 CET on the Sunday of the switch is 18:30 UTC, inside a Sunday window.
    sunday = parse_window("Sun 08:00-20:00")
    moment = datetime(2026, 10, 25, 18, 30, tzinfo=UTC)
    assert next_allowed(moment, sunday, french_holidays) == moment
    assert next_allowed(datetime(2026, 10, 25, 19, 0, tzinfo=UTC), sunday, french_holidays) == (
        datetime(2026, 11, 8, 7, 0, tzinfo=UTC)  # 1 Nov is a Sunday and a holiday
    )


def test_no_holidays() -> None:
    whit_monday = paris(2026, 5, 25, 9, 0)
    assert next_allowed(whit_monday, WINDOW, lambda year: frozenset()) == whit_monday


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_allowed(datetime(2026, 5, 20, 10, 0), WINDOW, french_holidays)
