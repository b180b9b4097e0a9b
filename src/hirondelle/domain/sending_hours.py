"""Sending hours of commercial messages: the window they may leave in, and French holidays.

A commercial message to a French number leaves only inside a weekly window ("Mon-Sat
08:00-20:00" Europe/Paris by default), never on a French public holiday; outside it, it is
deferred to the next moment the window opens — never refused.

The window is read in Europe/Paris with zoneinfo, and compared in UTC, so a daylight saving
switch is handled: the window opens at 08:00 of the local clock whatever the offset that day.
A window that opens in the hour the clocks skip (02:30 on the spring-forward night) opens when
the clocks reach it (03:30); the closing time is exclusive (20:00 itself is outside).

The 11 public holidays of metropolitan France are computed (Easter by the anonymous Gregorian
algorithm): 1 January, Easter Monday, 1 May, 8 May, Ascension, Whit Monday, 14 July, 15 August,
1 November, 11 November and 25 December.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Set
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

#: The zone French sending hours are read in.
PARIS: Final = "Europe/Paris"
#: The window of an account that has not chosen its own.
DEFAULT_WINDOW: Final = "Mon-Sat 08:00-20:00"
#: The most days `next_allowed` looks ahead (a valid window opens long before).
_HORIZON_DAYS: Final = 400

DAY_NAMES: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAYS = r"[A-Za-z]{3}(?:-[A-Za-z]{3})?(?: *, *[A-Za-z]{3}(?:-[A-Za-z]{3})?)*"
_WINDOW: Final = re.compile(
    rf"({_DAYS}) +(\d{{1,2}}):(\d{{2}}) *- *(\d{{1,2}}):(\d{{2}})", re.ASCII
)

#: year -> the public holidays of that year
Holidays = Callable[[int], Set[date]]


class BadWindow(ValueError):
    """A sending window that cannot be read ("Mon-Sat 08:00-20:00" is one)."""


@dataclass(frozen=True, slots=True)
class SendingWindow:
    """Days of the week (0 = Monday) and the local hours [start, end) messages may leave in."""

    days: frozenset[int]
    start: time
    end: time
    zone: str = PARIS

    def __str__(self) -> str:
        return f"{_days_text(self.days)} {self.start:%H:%M}-{self.end:%H:%M}"


def parse_window(text: str) -> SendingWindow:
    """Read "Mon-Sat 08:00-20:00", "Mon,Wed,Fri 09:30-12:00" (day names in English, any case;
    a range may wrap: "Fri-Mon"). The start must come before the end on the same day."""
    match = _WINDOW.fullmatch(text.strip())
    if match is None:
        raise BadWindow(f"not a window like {DEFAULT_WINDOW!r}: {text!r}")
    days_text, *clock = match.groups()
    days: set[int] = set()
    for item in days_text.split(","):
        first, _, last = item.strip().partition("-")
        begin = _day(first)
        stop = _day(last) if last else begin
        days.update((begin + offset) % 7 for offset in range((stop - begin) % 7 + 1))
    hour_start, minute_start, hour_end, minute_end = (int(part) for part in clock)
    try:
        start, end = time(hour_start, minute_start), time(hour_end, minute_end)
    except ValueError as exc:
        raise BadWindow(f"no such time in {text!r}") from exc
    if start >= end:
        raise BadWindow(f"the window must open before it closes: {text!r}")
    return SendingWindow(frozenset(days), start, end)


def _day(name: str) -> int:
    try:
        return [day.lower() for day in DAY_NAMES].index(name.lower())
    except ValueError:
        raise BadWindow(f"not a day (Mon … Sun): {name!r}") from None


def _days_text(days: frozenset[int]) -> str:
    """The shortest writing: "Mon-Sat", "Mon,Wed,Fri" (runs of 3 days or more as ranges)."""
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts: list[str] = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{DAY_NAMES[run[0]]}-{DAY_NAMES[run[-1]]}")
        else:
            parts.extend(DAY_NAMES[day] for day in run)
    return ",".join(parts)


def easter(year: int) -> date:
    """Easter Sunday of the Gregorian calendar (the anonymous algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    leap = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * leap) // 451
    month, day = divmod(h + leap - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=64)
def french_holidays(year: int) -> frozenset[date]:
    """The 11 public holidays of metropolitan France in `year`."""
    sunday = easter(year)
    fixed = ((1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25))
    movable = (sunday + timedelta(days=1), sunday + timedelta(days=39), sunday + timedelta(50))
    return frozenset({date(year, month, day) for month, day in fixed} | set(movable))


def next_allowed(moment: datetime, window: SendingWindow, holidays: Holidays) -> datetime:
    """`moment` (aware) if it is inside `window`, else the moment the window next opens on a
    day that is not a holiday; in UTC."""
    if moment.tzinfo is None:
        raise ValueError("next_allowed needs an aware moment")
    zone = ZoneInfo(window.zone)
    when = moment.astimezone(UTC)
    day = when.astimezone(zone).date()
    for _ in range(_HORIZON_DAYS):
        if day.weekday() in window.days and day not in holidays(day.year):
            opens = datetime.combine(day, window.start, zone).astimezone(UTC)
            closes = datetime.combine(day, window.end, zone).astimezone(UTC)
            if when < closes:
                return max(when, opens)
        day += timedelta(days=1)
    raise ValueError(f"the window {window} never opens")
