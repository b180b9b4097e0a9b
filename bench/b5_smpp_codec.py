"""B5 SMPP codec: microbenchmarks of the pure-Python PDU layer, without sockets.

Figures: microseconds per operation (best of 5 runs of `timeit`) for constructing, encoding and
decoding the three PDUs of the hot path -- submit_sm, its submit_sm_resp, and the deliver_sm of
a delivery receipt -- and for `build_submits("Hello world", ...)`. B3's bare-client reference
is bounded by these: the simulator decodes every submit_sm and builds, encodes a response and a
receipt for it.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable

from harness import report

from hirondelle.smpp.codec import decode_pdu, encode_pdu
from hirondelle.smpp.messages import build_submits
from hirondelle.smpp.pdu import DeliverSm, SubmitSm, SubmitSmResp

RECEIPT_TEXT = (
    b"id:1A2B sub:001 dlvrd:001 submit date:2611301200 done date:2611301200 stat:DELIVRD"
    b" err:000 text:"
)


def submit() -> SubmitSm:
    return SubmitSm(
        source_addr_ton=5,
        source_addr="36180",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="33630000001",
        registered_delivery=1,
        short_message=b"Hello world",
        sequence_number=7,
    )


def receipt() -> DeliverSm:
    return DeliverSm(
        source_addr_ton=1,
        source_addr_npi=1,
        source_addr="33630000001",
        dest_addr_ton=5,
        destination_addr="36180",
        esm_class=0x04,
        short_message=RECEIPT_TEXT,
        receipted_message_id="1A2B",
        message_state=2,
        sequence_number=9,
    )


def resp() -> SubmitSmResp:
    return SubmitSmResp(message_id="1A2B", sequence_number=7)


def micro(fn: Callable[[], object], number: int = 20_000) -> float:
    """Microseconds per call, best of 5."""
    return round(min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6, 2)


def main() -> dict[str, object]:
    figures: dict[str, object] = {}
    for name, make in (
        ("submit_sm", submit),
        ("deliver_sm_receipt", receipt),
        ("submit_sm_resp", resp),
    ):
        pdu = make()
        data = encode_pdu(pdu)
        assert decode_pdu(data) == pdu
        figures[f"{name}_construct_us"] = micro(make)
        figures[f"{name}_encode_us"] = micro(lambda pdu=pdu: encode_pdu(pdu))  # type: ignore[misc]
        figures[f"{name}_decode_us"] = micro(lambda data=data: decode_pdu(data))  # type: ignore[misc]
    figures["build_submits_us"] = micro(
        lambda: build_submits("Hello world", "36180", "33630000001")
    )
    return report("B5 SMPP codec", figures)


if __name__ == "__main__":
    main()
