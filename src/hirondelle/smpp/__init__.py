"""SMPP 3.4: a sans-I/O codec and connection (pdu, codec, connection, errors), delivery receipts,
message building, an asyncio ESME session and an SMSC simulator. See STYLE.md §1."""
