"""Protocol errors, after h11's `_util.py`.

Code in `pdu.py` and `connection.py` always raises `LocalProtocolError`; when the cause is
something the peer sent, `Connection.next_event()` re-raises it as `RemoteProtocolError`.
Each error carries a `command_status` hint: the status to put in the generic_nack (or the
_resp) that answers the offending PDU (SMPP 3.4 §5.1.3).
"""

from __future__ import annotations

from typing import NoReturn

from .constants import CommandStatus


class ProtocolError(Exception):
    """Something broke SMPP 3.4. Not instantiable: raise one of the two subclasses.

    `sequence_number` and `command_id` name the offending PDU when its header could be read
    (0 and None otherwise); `generic_nack` answers use them.
    """

    def __init__(
        self,
        msg: str,
        command_status: int = CommandStatus.ESME_RSYSERR,
        *,
        sequence_number: int = 0,
        command_id: int | None = None,
    ) -> None:
        if type(self) is ProtocolError:
            raise TypeError("tried to directly instantiate ProtocolError")
        super().__init__(msg)
        self.command_status = int(command_status)
        self.sequence_number = sequence_number
        self.command_id = command_id

    def _reraise_as_remote_protocol_error(self) -> NoReturn:
        """Turn a local error into a remote one, keeping the traceback (as h11 does)."""
        self.__class__ = RemoteProtocolError
        raise self


class LocalProtocolError(ProtocolError):
    """We (or the caller) tried to break the protocol; nothing was sent."""


class RemoteProtocolError(ProtocolError):
    """The peer broke the protocol. Answer with `command_status` when `sequence_number` says
    which PDU it was, unless the offending PDU was itself a response."""


# -- what `SmppSession.submit()` raises -------------------------------------------------------


class SubmitError(Exception):
    """A submit that did not get an ESME_ROK. `temporary` tells what the dispatcher does next:
    retry later without counting a failure (True), or record a rejection (False)."""

    temporary: bool = False

    def __init__(self, msg: str, command_status: int | None = None) -> None:
        super().__init__(msg)
        self.command_status = command_status


class SubmitRejected(SubmitError):
    """Permanent: the SMSC refused this message (e.g. ESME_RINVDSTADR). Do not resend it."""


class SubmitRetryLater(SubmitError):
    """Temporary: throttled or queue full after our own retries, not bound, connection lost or
    no answer in time. In the last two cases the SMSC may have taken the message."""

    temporary = True


class SubmitThrottled(SubmitRetryLater):
    """Still ESME_RTHROTTLED or ESME_RMSGQFUL after the session's own spaced retries."""


class SubmitTimedOut(SubmitRetryLater):
    """No answer in time (the link is dropped: the SMSC may or may not have taken it)."""
