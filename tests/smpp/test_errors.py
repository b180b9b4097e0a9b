from __future__ import annotations

import pytest

from hirondelle.smpp.codec import encode_pdu
from hirondelle.smpp.connection import Connection, Role, State, nack_for
from hirondelle.smpp.constants import CommandStatus as S
from hirondelle.smpp.errors import (
    LocalProtocolError,
    RemoteProtocolError,
    SubmitError,
    SubmitRejected,
    SubmitRetryLater,
    SubmitThrottled,
    SubmitTimedOut,
)
from hirondelle.smpp.pdu import (
    DeliverSm,
    GenericNack,
    Outbind,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    response_to,
)

from .helpers import SmppPair


def test_remote_errors_keep_their_hint_and_pdu() -> None:
    conn = Connection(Role.SMSC)
    conn.receive_data(encode_pdu(DeliverSm(sequence_number=4)))  # an ESME never sends that
    with pytest.raises(RemoteProtocolError) as info:
        conn.next_event()
    error = info.value
    assert not isinstance(error, LocalProtocolError)
    assert (error.command_status, error.sequence_number, error.command_id) == (4, 4, 5)
    assert nack_for(error) == GenericNack(command_status=S.ESME_RINVBNDSTS, sequence_number=4)


def test_no_nack_for_a_response() -> None:
    error = RemoteProtocolError("late", S.ESME_RINVCMDID, sequence_number=9, command_id=0x80000004)
    assert nack_for(error) is None


def test_submit_errors_say_what_to_do() -> None:
    assert issubclass(SubmitRejected, SubmitError) and issubclass(SubmitRetryLater, SubmitError)
    assert not SubmitRejected("no", S.ESME_RINVDSTADR).temporary
    later = SubmitRetryLater("busy", S.ESME_RTHROTTLED)
    assert later.temporary and later.command_status == S.ESME_RTHROTTLED
    assert SubmitRetryLater("connection lost").command_status is None
    # told apart for the warnings and counters, handled as any temporary refusal
    for kind in (SubmitThrottled, SubmitTimedOut):
        assert issubclass(kind, SubmitRetryLater) and kind("x").temporary


def test_after_unbind_only_answers_travel() -> None:
    pair = SmppPair()
    pair.bind()
    submit = SubmitSm(sequence_number=pair.esme.next_sequence_number())
    pair.send(Role.ESME, submit)
    pair.send(Role.SMSC, Unbind(sequence_number=pair.smsc.next_sequence_number()))
    assert pair.esme.state is State.UNBOUND
    with pytest.raises(LocalProtocolError):
        pair.esme.send(SubmitSm(sequence_number=pair.esme.next_sequence_number()))
    pair.send(Role.SMSC, response_to(submit, message_id="m"))  # the answer still comes
    pair.send(Role.ESME, UnbindResp(sequence_number=1))
    assert pair.esme.state is pair.smsc.state is State.CLOSED


def test_both_sides_unbind_at_once() -> None:
    pair = SmppPair()
    pair.bind()
    mine = pair.esme.send(Unbind(sequence_number=pair.esme.next_sequence_number()))
    theirs = pair.smsc.send(Unbind(sequence_number=pair.smsc.next_sequence_number()))
    pair.esme.receive_data(theirs)
    pair.smsc.receive_data(mine)
    assert isinstance(pair.esme.next_event(), Unbind)
    assert isinstance(pair.smsc.next_event(), Unbind)
    pair.send(Role.ESME, UnbindResp(sequence_number=1))
    assert pair.esme.state is State.CLOSED


def test_outbind_then_bind_receiver() -> None:
    pair = SmppPair()
    pair.send(Role.SMSC, Outbind(sequence_number=1, system_id="smsc"))
    assert not pair.smsc.our_outstanding  # outbind has no answer
    with pytest.raises(LocalProtocolError):
        pair.esme.send(SubmitSmResp(sequence_number=1))
