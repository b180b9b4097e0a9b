"""SMPP 3.4: a sans-I/O codec and connection (pdu, connection, errors), delivery receipts,
message building, an asyncio ESME session and an SMSC simulator. See STYLE.md §1."""

from . import pdu as pdu  # first: pdu.py and codec.py import each other
