"""plan_campaign and parse_recipients: the pure part of a send, without a store."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pytest

from hirondelle.domain.pricing import PriceTable
from hirondelle.domain.statuses import SendStatus
from hirondelle.services.sending import (
    Plan,
    Recipient,
    SendRefused,
    SmsOrder,
    parse_recipients,
    plan_campaign,
)

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
FR_1, FR_2 = "0612000001", "0612000002"


def order(message: str = "Hi", numbers: Iterable[str | Recipient] = (FR_1,), **kw: Any) -> SmsOrder:
    recipients = [r if isinstance(r, Recipient) else Recipient(r) for r in numbers]
    return SmsOrder(message=message, recipients=recipients, **kw)


def plan(
    the_order: SmsOrder,
    *,
    blacklisted: Iterable[str] = (),
    prices: PriceTable | None = None,
) -> Plan:
    return plan_campaign(
        the_order,
        parse_recipients(the_order.recipients),
        timezone="Europe/Paris",
        default_sender="36180",
        prices=prices or PriceTable.default(),
        blacklisted=set(blacklisted),
        now=NOW,
    )


def refused(the_order: SmsOrder, **kw: Any) -> SendRefused:
    with pytest.raises(SendRefused) as info:
        plan(the_order, **kw)
    return info.value


# -- which refusal wins ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("the_order", "status"),
    [
        (order("", numbers=(), date="bad"), SendStatus.EMPTY_MESSAGE),
        (order("Hi", numbers=(), date="bad"), SendStatus.BAD_DATE),
        (order("x" * 2000, numbers=()), SendStatus.NO_VALID_NUMBER),
        (order("x" * 2000, numbers=("0140000000",)), SendStatus.NO_VALID_NUMBER),
        (order("x" * 2000, date="2030-06-01 25:00:00"), SendStatus.BAD_DATE),
        (order(date="0001-01-01 00:00:00"), SendStatus.BAD_DATE),  # year 0 in UTC
        (order("\\n"), SendStatus.EMPTY_MESSAGE),  # a lone line break is blank
        (order(" \t "), SendStatus.EMPTY_MESSAGE),
        (order(".\\n"), SendStatus.SENT),
    ],
)
def test_refusal_order(the_order: SmsOrder, status: SendStatus) -> None:
    if status == SendStatus.SENT:
        assert plan(the_order).nb_sms == 1
    else:
        assert refused(the_order).status == status


def test_no_valid_number_carries_the_invalid_ones() -> None:
    error = refused(order(numbers=(" 0140000000 ", FR_1)), blacklisted={"33612000001"})
    assert (error.status, error.invalid_numbers) == (114, ["0140000000", "33612000001"])


# -- recipients ------------------------------------------------------------------------------


def test_a_number_given_twice_keeps_its_first_recipient() -> None:
    recipients = parse_recipients(
        [
            Recipient("+33 6 12 00 00 01", {1: "first"}, "id-1"),
            Recipient(" junk "),
            Recipient("0033612000001", {1: "second"}, "id-2"),
            Recipient(FR_2),
        ]
    )
    assert recipients.phones == ["33612000001", "33612000002"]
    assert recipients.valid[0][1].params == {1: "first"}
    assert recipients.invalid == ["junk"]


def test_prices_senders_and_credits_per_country() -> None:
    the_plan = plan(
        order("Promo", numbers=(FR_1, "+32470123456", "+447700900123"), tpoa="Shop"),
    )
    assert [(m.phone, m.country, m.sender, m.credits) for m in the_plan.messages] == [
        ("33612000001", "FR", "36180", 15),  # no STOP mention for France
        ("32470123456", "BE", "Shop", 16),
        ("447700900123", "GB", "Shop", 18),
    ]
    assert (the_plan.credits, the_plan.nb_sms) == (49, 3)


def test_a_country_missing_from_the_price_table_is_an_invalid_number() -> None:
    prices = PriceTable({"FR": 3})
    the_plan = plan(order(numbers=(FR_1, "+447700900123")), prices=prices)
    assert [(m.phone, m.credits) for m in the_plan.messages] == [("33612000001", 3)]
    assert the_plan.invalid_numbers == ["+447700900123"]


# -- text ------------------------------------------------------------------------------------


def test_dynamic_texts_are_measured_per_recipient() -> None:
    recipients = [
        Recipient(FR_1, {1: "short"}),
        Recipient(FR_2, {1: "é" * 200}),
        Recipient("0612000003", {1: "ê"}),
    ]
    the_plan = plan(order("Hi #PARAM_1#\\n", recipients, dynamic=1))
    assert [(m.text, m.parts, m.credits) for m in the_plan.messages] == [
        ("Hi short\n", 1, 15),
        ("Hi " + "é" * 200 + "\n", 2, 30),  # é is GSM: 204 septets
        ("Hi ê\n", 1, 15),  # ê is not: UCS-2, 5 units
    ]


def test_placeholders_are_merged_without_dynamic() -> None:
    the_plan = plan(order("Hi #param_1##param_9#", [Recipient(FR_1, {1: "Ann"})]))
    assert the_plan.messages[0].text == "Hi Ann"


def test_dynamic_without_placeholders_sends_the_text_as_is() -> None:
    the_plan = plan(order("Hi #param#", [Recipient(FR_1, {1: "Ann"})], dynamic=1))
    assert the_plan.messages[0].text == "Hi #param#"


def test_one_recipient_over_eight_parts_refuses_all() -> None:
    recipients = [Recipient(FR_1, {1: "a"}), Recipient(FR_2, {1: "a" * 1223})]
    assert refused(order("#param_1#..", recipients, dynamic=1)).status == 111
    recipients[1] = Recipient(FR_2, {1: "a" * 1222})
    assert plan(order("#param_1#..", recipients, dynamic=1)).nb_sms == 9


# -- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("date", "due", "scheduled"),
    [
        (None, NOW, False),
        ("2001-01-01 00:00:00", NOW, False),
        ("2030-06-01 14:00:00", NOW, False),  # 14:00 in Paris in June is 12:00 UTC: now
        ("2030-06-01 14:00:01", datetime(2030, 6, 1, 12, 0, 1, tzinfo=UTC), True),
        ("2030-12-24 18:30", datetime(2030, 12, 24, 17, 30, tzinfo=UTC), True),
    ],
)
def test_due_time(date: str | None, due: datetime, scheduled: bool) -> None:
    the_plan = plan(order(date=date))
    assert (the_plan.due_at, the_plan.scheduled) == (due, scheduled)


# -- what the store cannot hold --------------------------------------------------------------


@pytest.mark.parametrize(
    "the_order",
    [
        order("Hi\x00"),
        order("Hi", campaign_name="name\x00"),
        order("Hi #param_1#", [Recipient(FR_1, {1: "\x00"})]),
        order("Hi", [Recipient(FR_1, cli_msg_id="a\x00")]),
        order("Hi", [Recipient(FR_1, cli_msg_id="x" * 256)]),
    ],
    ids=["message", "campaign", "param", "climsgid-nul", "climsgid-long"],
)
def test_unstorable_orders_are_invalid_feeds(the_order: SmsOrder) -> None:
    assert refused(the_order).status == SendStatus.INVALID_FEED


def test_a_placeholder_with_a_huge_number_is_plain_text() -> None:
    """`#param_N#` names at most 9 digits; beyond, it is text (here far too long a text)."""
    assert refused(order("Hi #param_" + "1" * 5000 + "#")).status == SendStatus.MESSAGE_TOO_LONG
    the_plan = plan(order("Hi #param_" + "1" * 20 + "#"))
    assert the_plan.messages[0].text == "Hi #param_" + "1" * 20 + "#"


def test_a_climsgid_of_255_characters_is_kept() -> None:
    the_plan = plan(order("Hi", [Recipient(FR_1, cli_msg_id="x" * 255)]))
    assert the_plan.messages[0].cli_msg_id == "x" * 255
