"""SMPP 3.4 §7.1.1 time formats, as validity_period and schedule_delivery_time carry them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hirondelle.smpp.codec import decode_pdu, encode_pdu
from hirondelle.smpp.messages import MessageOptions, build_submits
from hirondelle.smpp.pdu import SubmitSm
from hirondelle.smpp.times import absolute_time, parse_time, relative_time

NOW = datetime(2026, 12, 3, 9, 30, 15, 250000, tzinfo=UTC)


def test_absolute_time_is_utc_with_tenths() -> None:
    assert absolute_time(NOW) == "261203093015200+"
    paris = NOW.astimezone(timezone(timedelta(hours=1)))
    assert absolute_time(paris) == "261203093015200+"  # always written in UTC


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(hours=48), "000002000000000R"),
        (timedelta(days=3, hours=4, minutes=5, seconds=6), "000003040506000R"),
        (timedelta(seconds=59.2), "000000000100000R"),  # whole seconds, rounded up
        (timedelta(seconds=0), "000000000001000R"),  # never "now" (what some SMSCs refuse)
        (timedelta(seconds=-5), "000000000001000R"),
        (timedelta(days=500), "000099235959000R"),  # the most a relative time says in days
    ],
)
def test_relative_time(delta: timedelta, text: str) -> None:
    assert relative_time(delta) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        ("261203093015200+", NOW - timedelta(microseconds=50000)),
        ("261203103015200+", NOW + timedelta(hours=1) - timedelta(microseconds=50000)),
        ("261203113015204+", NOW + timedelta(hours=1) - timedelta(microseconds=50000)),
        ("261203083015204-", NOW - timedelta(microseconds=50000)),
        ("000002000000000R", NOW + timedelta(days=2)),
        ("000000013000000R", NOW + timedelta(minutes=90)),
    ],
)
def test_parse_time(text: str, expected: datetime | None) -> None:
    assert parse_time(text, NOW) == expected


@pytest.mark.parametrize(
    "text", ["26120309301520+", "2612030930152000", "261303093015200+", "26120309301520x+", "R"]
)
def test_parse_time_refuses_what_is_not_section_7_1_1(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text, NOW)


@given(st.integers(min_value=1, max_value=99 * 86400))
def test_relative_round_trip(seconds: int) -> None:
    assert parse_time(relative_time(timedelta(seconds=seconds)), NOW) == NOW + timedelta(
        seconds=seconds
    )


@given(st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2098, 12, 31)))
def test_absolute_round_trip(moment: datetime) -> None:
    moment = moment.replace(tzinfo=UTC)
    back = parse_time(absolute_time(moment), NOW)
    assert back is not None and timedelta(0) <= moment - back < timedelta(seconds=0.1)


def test_validity_period_travels_in_submit_sm() -> None:
    options = MessageOptions(validity_period=relative_time(timedelta(hours=48)))
    (pdu,) = build_submits("Hello", "Hirondelle", "33611111111", options)
    decoded = decode_pdu(encode_pdu(pdu))
    assert isinstance(decoded, SubmitSm)
    assert decoded.validity_period == "000002000000000R"
    assert b"000002000000000R\x00" in encode_pdu(pdu)
