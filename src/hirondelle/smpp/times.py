"""SMPP 3.4 §7.1.1 time formats: what `validity_period` and `schedule_delivery_time` carry.

Both are 16 characters `YYMMDDhhmmsstnnp` (or empty: the SMSC's default):

- absolute: a moment; `t` tenths of a second, `nn` the offset from UTC in quarter hours, `p`
  `+` (local time ahead of UTC) or `-` (behind). We always write UTC: `…t00+`.
- relative: `p` is `R` and the fields are a duration from now: `000002000000000R` is two days.

A relative validity does not depend on the SMSC's clock; an absolute one does not depend on how
long the submit_sm waited on its way. No I/O, no clock: the caller says what "now" is.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

#: What a relative time can say with days alone (`YY` and `MM` have no exact length).
MAX_RELATIVE = timedelta(days=99, hours=23, minutes=59, seconds=59)


def absolute_time(moment: datetime) -> str:
    """`moment` (aware) as an absolute time, written in UTC."""
    utc = moment.astimezone(UTC)
    return f"{utc:%y%m%d%H%M%S}{utc.microsecond // 100_000}00+"


def relative_time(delta: timedelta) -> str:
    """`delta` as a relative time: whole seconds rounded up, at least 1 s, at most 99 days."""
    seconds = min(max(math.ceil(delta.total_seconds()), 1), int(MAX_RELATIVE.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"0000{days:02d}{hours:02d}{minutes:02d}{seconds:02d}000R"


def parse_time(value: str, now: datetime) -> datetime | None:
    """The moment an absolute or relative time names (None when empty); ValueError otherwise.

    In a relative time a year counts 365 days and a month 30 (SMPP leaves them undefined).
    """
    if not value:
        return None
    if len(value) != 16 or not value[:15].isdigit() or value[15] not in "+-R":
        raise ValueError(f"not an SMPP time: {value!r}")
    yy, mo, dd, hh, mi, ss = (int(value[i : i + 2]) for i in range(0, 12, 2))
    if value[15] == "R":
        days = yy * 365 + mo * 30 + dd
        return now + timedelta(days=days, hours=hh, minutes=mi, seconds=ss)
    tenths, quarters = int(value[12]), int(value[13:15])
    if quarters > 48:
        raise ValueError(f"UTC offset out of range: {value!r}")
    offset = timedelta(minutes=15 * quarters) * (1 if value[15] == "+" else -1)
    local = datetime(2000 + yy, mo, dd, hh, mi, ss, tenths * 100_000, tzinfo=UTC)
    return local - offset
