"""The two questions the SMPP server asks before letting a customer in or a message through.

Both allow everything for now: the coordinator wires them to `services/access.py` (IP
allow-lists and throughput limits, issue #18) at merge. The server maps a refused bind to
ESME_RINVSYSID and a throttled submit to ESME_RTHROTTLED (docs/smpp-server.md), so wiring them is
a change to these two functions only.
"""

from __future__ import annotations

from hirondelle.context import Context
from hirondelle.services.accounts import Account


async def bind_allowed(ctx: Context, account: Account, peer_address: str) -> bool:
    """May `account` bind from `peer_address` (the client's IP address)?"""
    return True  # wired to services/access.py (IP allow-list) by the coordinator at merge


async def submit_throttled(ctx: Context, account: Account) -> float | None:
    """None when `account` may submit a message now, else the seconds after which it may."""
    return None  # wired to services/access.py (throughput limit) by the coordinator at merge
