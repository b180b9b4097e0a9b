"""The SMPP server for customers (docs/smpp-server.md): binds, submit_sm through the send service,
receipts and replies back as deliver_sm. Above `smpp/` (the protocol) and `services/`."""
