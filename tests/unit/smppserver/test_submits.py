"""The SMPP server's sans-I/O parts: parts to one message, fields to an order, refusals to
command_status, receipts and replies to deliver_sm."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hirondelle.domain.statuses import AckStatus, SendStatus
from hirondelle.services.smpp_customers import Delivery
from hirondelle.smpp.constants import CommandStatus as S
from hirondelle.smpp.messages import MessageOptions, build_submits
from hirondelle.smpp.pdu import SubmitSm
from hirondelle.smpp.receipts import ReceiptStat, receipt_from_deliver_sm
from hirondelle.smppserver.outbox import deliver_sm_for
from hirondelle.smppserver.submits import (
    ESME_RINVDCS,
    ESME_RNOCREDIT,
    PartCollector,
    SubmitRefused,
    decode_user_data,
    recipient_of,
    send_date_of,
    sender_of,
    status_for_refusal,
)

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
LONG_UCS2 = "Привет! " * 24
LONG_GSM = "Long GSM text with {braces} and €. " * 12


def collector() -> PartCollector:
    return PartCollector(timedelta(seconds=60))


@pytest.mark.parametrize("concatenation", ["udh8", "udh16", "sar", "payload"])
@pytest.mark.parametrize("text", [LONG_UCS2, LONG_GSM, "court", "😀" * 80])
def test_parts_become_one_message(concatenation: str, text: str) -> None:
    pdus = build_submits(text, "Shop", "33612345678", MessageOptions(concatenation=concatenation))  # type: ignore[arg-type]
    parts = collector()
    results = [parts.feed(pdu, NOW) for pdu in reversed(pdus)]  # in any order
    whole = results[-1]
    assert whole is not None and all(r is None for r in results[:-1])
    assert whole.text == text
    assert sorted(p.sequence_number for p in whole.pdus) == [0] * len(pdus)
    assert len(whole.pdus) == len(pdus)
    assert parts.pending == 0


def test_latin1_and_ascii_are_decoded() -> None:
    assert decode_user_data("Crème brûlée".encode("latin-1"), 3) == "Crème brûlée"
    assert decode_user_data(b"plain", 1) == "plain"


@pytest.mark.parametrize(
    ("data", "coding", "status"),
    [
        (b"\x00\x41\x00", 8, S.ESME_RINVMSGLEN),  # odd UCS-2
        (b"\x80", 0, S.ESME_RINVMSGLEN),  # not a septet
        (b"\x01\x02", 4, ESME_RINVDCS),  # 8-bit binary
        (b"\xff", 1, S.ESME_RINVMSGLEN),  # not ASCII
    ],
)
def test_undecodable_data_is_refused(data: bytes, coding: int, status: int) -> None:
    with pytest.raises(SubmitRefused) as refused:
        decode_user_data(data, coding)
    assert refused.value.command_status == status


def test_incomplete_messages_expire_and_repeated_parts_are_refused() -> None:
    pdus = build_submits(LONG_UCS2, "Shop", "33612345678")
    parts = collector()
    assert parts.feed(pdus[0], NOW) is None
    with pytest.raises(SubmitRefused):
        parts.feed(pdus[0], NOW)
    assert parts.expired(NOW + timedelta(seconds=59)) == []
    assert parts.expired(NOW + timedelta(seconds=60)) == [[pdus[0]]]
    assert parts.pending == 0


def test_part_number_outside_the_total_is_refused() -> None:
    pdu = SubmitSm(
        short_message=b"x", sar_msg_ref_num=1, sar_total_segments=2, sar_segment_seqnum=3
    )
    with pytest.raises(SubmitRefused):
        collector().feed(pdu, NOW)


def test_sender() -> None:
    own = {"36180", "33700000000"}
    assert sender_of("", own) is None
    assert sender_of("36180", own) is None
    assert sender_of("+33700000000", own) is None
    assert sender_of("MyShop", own) == "MyShop"
    for bad in ("+-+", "12345", "A very long sender"):
        with pytest.raises(SubmitRefused) as refused:
            sender_of(bad, own)
        assert refused.value.command_status == S.ESME_RINVSRCADR


def test_recipient() -> None:
    assert recipient_of("33612345678", 1) == "+33612345678"
    assert recipient_of("0612345678", 2) == "0612345678"
    assert recipient_of("+33612345678", 0) == "+33612345678"
    with pytest.raises(SubmitRefused):
        recipient_of(" ", 1)


def test_schedule_delivery_time() -> None:
    assert send_date_of("", NOW, "Europe/Paris") is None
    assert send_date_of("000001000000000R", NOW, "Europe/Paris") == "2026-12-04 11:00:00"
    assert send_date_of("261224090000000+", NOW, "Europe/Paris") == "2026-12-24 10:00:00"
    with pytest.raises(SubmitRefused) as refused:
        send_date_of("tomorrow", NOW, "Europe/Paris")
    assert refused.value.command_status == S.ESME_RINVSCHED


def test_refusal_statuses() -> None:
    assert status_for_refusal(SendStatus.NO_VALID_NUMBER) == S.ESME_RINVDSTADR
    assert status_for_refusal(SendStatus.INSUFFICIENT_CREDITS) == ESME_RNOCREDIT
    assert status_for_refusal(SendStatus.MESSAGE_TOO_LONG) == S.ESME_RINVMSGLEN
    assert status_for_refusal(SendStatus.BAD_CREDENTIALS) == S.ESME_RSUBMITFAIL


def delivery(kind: str, status: int = 0, text: str = "Bonjour") -> Delivery:
    return Delivery(
        id=1,
        account_id=1,
        kind=kind,
        sms_id="b4c9a7e2-1111-2222-3333-444455556666",
        source="33612345678",
        destination="36180",
        text=text,
        status=status,
        submitted_at=NOW,
        created_at=NOW + timedelta(minutes=1),
    )


@pytest.mark.parametrize(
    ("status", "stat", "err"),
    [
        (AckStatus.DELIVERED, ReceiptStat.DELIVRD, "000"),
        (AckStatus.NOT_DELIVERED, ReceiptStat.UNDELIV, "000"),
        (AckStatus.REJECTED, ReceiptStat.REJECTD, "000"),
        (AckStatus.UNKNOWN_NUMBER, ReceiptStat.UNDELIV, "001"),
    ],
)
def test_receipts_read_back_as_receipts(status: AckStatus, stat: ReceiptStat, err: str) -> None:
    pdu = deliver_sm_for(delivery("receipt", int(status)))
    assert pdu.esm_class == 0x04
    text = pdu.short_message.decode()
    assert text.startswith("id:b4c9a7e2-1111-2222-3333-444455556666 sub:001 dlvrd:")
    assert "submit date:2612031000 done date:2612031001" in text and text.endswith("text:Bonjour")
    receipt = receipt_from_deliver_sm(pdu)  # our own ESME's parser reads it back
    assert receipt is not None
    assert (receipt.message_id, receipt.stat, receipt.err) == (delivery("").sms_id, stat, err)


def test_replies_travel_whole() -> None:
    short = deliver_sm_for(delivery("reply", text="STOP"))
    assert (short.esm_class, short.short_message, short.data_coding) == (0, b"STOP", 0)
    long = deliver_sm_for(delivery("reply", text=LONG_UCS2))
    assert long.message_payload is not None and long.data_coding == 8
    assert long.message_payload.decode("utf-16-be") == LONG_UCS2
