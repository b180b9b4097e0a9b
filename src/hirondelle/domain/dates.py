"""Send dates: the `date` / `DATE` of a campaign, in the account's time zone (DESIGN §5).

Accepted: `YYYY-MM-DD HH:MM:SS`, or `YYYY-MM-DD HH:MM`, with spaces around. Anything else, or a
date that does not exist (February 30th, 25:00), is a BadDate (status 115). A date in the past
means "now".

Local times that the clocks skip or repeat when daylight saving time changes are read the way
Python's zoneinfo reads them (fold=0): a skipped time, 02:30 on the spring-forward night in
Paris, is sent one hour later in wall-clock terms (03:30); a repeated one, 02:30 on the
fall-back night, is its first occurrence.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

_SEND_DATE: Final = re.compile(r"(\d{4})-(\d{2})-(\d{2}) +(\d{2}):(\d{2})(?::(\d{2}))?", re.ASCII)


class BadDate(ValueError):
    """A send date that is malformed or does not exist."""


def parse_send_date(value: str | None, tz: str, now: datetime) -> datetime | None:
    """The aware UTC instant to send at, `now` if that is in the past, None if no date is given.

    `tz` is an IANA zone name (the account's, "Europe/Paris" by default) and `now` an aware
    datetime. An unknown zone raises zoneinfo.ZoneInfoNotFoundError: it is configuration, not
    input.
    """
    if value is None or not value.strip():
        return None
    match = _SEND_DATE.fullmatch(value.strip())
    if match is None:
        raise BadDate(f"not a YYYY-MM-DD HH:MM:SS date: {value!r}")
    year, month, day, hour, minute, second = (int(part or 0) for part in match.groups())
    zone = ZoneInfo(tz)
    try:
        local = datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError as exc:
        raise BadDate(f"no such date: {value!r}") from exc
    when = local.astimezone(UTC)
    return max(when, now.astimezone(UTC))


def format_local(dt: datetime, tz: str) -> str:
    """`YYYY-MM-DD HH:MM:SS` in the zone `tz`, as the API writes dates in its answers."""
    return dt.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")
