from __future__ import annotations

import pytest

from hirondelle.domain.statuses import AckStatus
from hirondelle.smpp.pdu import DeliverSm
from hirondelle.smpp.receipts import (
    Receipt,
    ReceiptStat,
    format_receipt_text,
    parse_receipt_date,
    parse_receipt_text,
    receipt_from_deliver_sm,
    receipt_outcome,
)

APPENDIX_B = (
    "id:0123456789 sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 "
    "stat:DELIVRD err:000 Text:Hello world"
)


def test_appendix_b() -> None:
    assert parse_receipt_text(APPENDIX_B) == Receipt(
        message_id="0123456789",
        stat=ReceiptStat.DELIVRD,
        err="000",
        submit_date="2401011200",
        done_date="2401011201",
        dlvrd="001",
        sub="001",
        text="Hello world",
    )


@pytest.mark.parametrize(
    ("text", "message_id", "stat", "err", "submit_date"),
    [
        ("ID:ABC stat:undeliv err:001", "ABC", ReceiptStat.UNDELIV, "001", None),
        ("id : 5F3A  sub : 1  stat : EXPIRED", "5F3A", ReceiptStat.EXPIRED, None, None),
        (
            "id:77 submit_date:2401011200 stat:REJECTD",
            "77",
            ReceiptStat.REJECTD,
            None,
            "2401011200",
        ),
        (
            "id:77 submitdate:2401011200 stat:DELIVERED",
            "77",
            ReceiptStat.DELIVRD,
            None,
            "2401011200",
        ),
        ("id:1 stat:WHATEVER", "1", ReceiptStat.UNKNOWN, None, None),
        ("id:1", "1", ReceiptStat.UNKNOWN, None, None),
        (
            "  id:9f-2c stat:ACCEPTD err:0 text:id:2 stat:UNDELIV",
            "9f-2c",
            ReceiptStat.ACCEPTD,
            "0",
            None,
        ),
        ("stat:DELIVRD id:42 err:000", "42", ReceiptStat.DELIVRD, "000", None),
        ("id:42\r\nstat:DELIVRD\r\n", "42", ReceiptStat.DELIVRD, None, None),
    ],
)
def test_variants(
    text: str, message_id: str, stat: ReceiptStat, err: str | None, submit_date: str | None
) -> None:
    receipt = parse_receipt_text(text)
    assert receipt is not None
    assert (receipt.message_id, receipt.stat, receipt.err, receipt.submit_date) == (
        message_id,
        stat,
        err,
        submit_date,
    )


def test_text_keeps_everything_after_text_key() -> None:
    receipt = parse_receipt_text("id:1 stat:DELIVRD text:id:2 stat:UNDELIV")
    assert receipt is not None and receipt.text == "id:2 stat:UNDELIV"


@pytest.mark.parametrize("text", ["", "hello", "stat:DELIVRD", "id: stat:DELIVRD", "valid:1"])
def test_not_a_receipt(text: str) -> None:
    assert parse_receipt_text(text) is None


def test_tlvs_win_over_text() -> None:
    pdu = DeliverSm(
        esm_class=0x04,
        short_message=b"id:123 stat:UNDELIV err:000",
        receipted_message_id="7b",
        message_state=2,
    )
    receipt = receipt_from_deliver_sm(pdu)
    assert receipt is not None
    assert (receipt.message_id, receipt.stat) == ("7b", ReceiptStat.DELIVRD)


def test_tlvs_only_and_network_error_code() -> None:
    pdu = DeliverSm(receipted_message_id="abc", message_state=5, network_error_code=(3, 1))
    receipt = receipt_from_deliver_sm(pdu)
    assert receipt is not None
    assert (receipt.message_id, receipt.stat, receipt.err) == ("abc", ReceiptStat.UNDELIV, "001")
    assert receipt_outcome(receipt) == AckStatus.UNKNOWN_NUMBER


def test_receipt_in_message_payload() -> None:
    pdu = DeliverSm(esm_class=0x04, message_payload=APPENDIX_B.encode())
    receipt = receipt_from_deliver_sm(pdu)
    assert receipt is not None and receipt.message_id == "0123456789"


def test_mobile_originated_is_not_a_receipt() -> None:
    assert receipt_from_deliver_sm(DeliverSm(short_message=b"id:1 stat:DELIVRD")) is None
    assert receipt_from_deliver_sm(DeliverSm(esm_class=0x04, short_message=b"garbage")) is None


@pytest.mark.parametrize(
    ("stat", "err", "outcome"),
    [
        (ReceiptStat.DELIVRD, "000", AckStatus.DELIVERED),
        (ReceiptStat.ACCEPTD, None, AckStatus.DELIVERED),
        (ReceiptStat.UNDELIV, "000", AckStatus.NOT_DELIVERED),
        (ReceiptStat.EXPIRED, None, AckStatus.NOT_DELIVERED),
        (ReceiptStat.DELETED, "027", AckStatus.NOT_DELIVERED),  # absent subscriber: not unknown
        (ReceiptStat.UNKNOWN, None, AckStatus.NOT_DELIVERED),
        (ReceiptStat.REJECTD, "000", AckStatus.REJECTED),
        (ReceiptStat.UNDELIV, "001", AckStatus.UNKNOWN_NUMBER),
        (ReceiptStat.REJECTD, "005", AckStatus.UNKNOWN_NUMBER),
        (ReceiptStat.ENROUTE, None, AckStatus.TRANSMITTED),
        (ReceiptStat.UNDELIV, "x1", AckStatus.NOT_DELIVERED),
    ],
)
def test_outcome(stat: ReceiptStat, err: str | None, outcome: AckStatus) -> None:
    assert receipt_outcome(Receipt("1", stat, err=err)) == outcome


def test_dates_and_format_round_trip() -> None:
    assert parse_receipt_date("2401311259").isoformat() == "2024-01-31T12:59:00"  # type: ignore[union-attr]
    assert parse_receipt_date("240131125930").second == 30  # type: ignore[union-attr]
    assert parse_receipt_date("2413011200") is None
    assert parse_receipt_date(None) is None
    receipt = parse_receipt_text(APPENDIX_B)
    assert receipt is not None
    assert parse_receipt_text(format_receipt_text(receipt)) == receipt


# Receipt texts in the shapes SMSCs and gateways send them (ids and dates made up).
REAL_WORLD = [
    # Appendix B, as most send it
    ("id:1234567890 sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 "
     "stat:DELIVRD err:000 text:Hello", "1234567890", ReceiptStat.DELIVRD, "000"),
    # upper-case keys, "Text" cut short, hex id
    ("ID:7F3A2B1C SUB:001 DLVRD:000 SUBMIT DATE:2401011200 DONE DATE:2401011230 "
     "STAT:UNDELIV ERR:001 TEXT:Votre co", "7F3A2B1C", ReceiptStat.UNDELIV, "001"),
    # dates with seconds, no text
    ("id:abc-123 sub:001 dlvrd:001 submit date:240101120000 done date:240101120005 "
     "stat:DELIVRD err:0", "abc-123", ReceiptStat.DELIVRD, "0"),
    # underscores, no sub/dlvrd
    ("id:55 submit_date:2401011200 done_date:2401011200 stat:EXPIRED err:027",
     "55", ReceiptStat.EXPIRED, "027"),
    # long words for the stat
    ("id:9 stat:UNDELIVERABLE err:005", "9", ReceiptStat.UNDELIV, "005"),
    ("id:9 stat:REJECTED", "9", ReceiptStat.REJECTD, None),
    # an intermediate notification
    ("id:10 sub:001 dlvrd:000 submit date:2401011200 done date:2401011200 stat:ENROUTE err:000",
     "10", ReceiptStat.ENROUTE, "000"),
    # tabs and double spaces
    ("id:\t11  sub:001\tstat:  DELETED   err:  000", "11", ReceiptStat.DELETED, "000"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message_id", "stat", "err"), REAL_WORLD)
def test_real_world_receipts(
    text: str, message_id: str, stat: ReceiptStat, err: str | None
) -> None:
    receipt = parse_receipt_text(text)
    assert receipt is not None
    assert (receipt.message_id, receipt.stat, receipt.err) == (message_id, stat, err)
    # the same text inside a deliver_sm flagged as a receipt
    pdu = DeliverSm(esm_class=0x04, short_message=text.encode())
    assert receipt_from_deliver_sm(pdu) == receipt


def test_intermediate_notification_flag_is_a_receipt() -> None:
    pdu = DeliverSm(esm_class=0x20, short_message=b"id:1 stat:ENROUTE")
    receipt = receipt_from_deliver_sm(pdu)
    assert receipt is not None and receipt_outcome(receipt) == AckStatus.TRANSMITTED


def test_unknown_message_state_tlv_keeps_the_text_stat() -> None:
    pdu = DeliverSm(esm_class=0x04, short_message=b"id:1 stat:DELIVRD", message_state=99)
    receipt = receipt_from_deliver_sm(pdu)
    assert receipt is not None and receipt.stat is ReceiptStat.DELIVRD


def test_appendix_b_layout_read_as_any_other() -> None:
    """The one-match reading of Appendix B's layout gives what the general reading gives: keys
    in any case, empty fields, spaces after `text:`, a text over several lines."""
    text = (
        "ID:AB sub:001 dlvrd:001 Submit Date: done date:2401011201 stat:undeliv err:001"
        " Text:  two\nlines"
    )
    assert parse_receipt_text(text) == Receipt(
        message_id="AB",
        stat=ReceiptStat.UNDELIV,
        err="001",
        submit_date="",
        done_date="2401011201",
        dlvrd="001",
        sub="001",
        text="two\nlines",
    )


def test_a_colon_in_a_value_may_hide_a_key() -> None:
    """`x-id:5` holds a key (`id:` after a non-letter): read as the general reading does, the
    first `id:` keeps its value up to the second key."""
    text = (
        "id:x-id:5 sub:001 dlvrd:001 submit date:2401011200 done date:2401011201"
        " stat:DELIVRD err:000 text:Hi"
    )
    receipt = parse_receipt_text(text)
    assert receipt is not None and (receipt.message_id, receipt.text) == ("x-", "Hi")


def test_text_only_receipt_is_the_text_reading() -> None:
    pdu = DeliverSm(esm_class=0x04, short_message=APPENDIX_B.encode())
    assert receipt_from_deliver_sm(pdu) == parse_receipt_text(APPENDIX_B)
