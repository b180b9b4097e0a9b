"""Dispatch: claim due messages, route them to SMPP connectors, record what happens."""
