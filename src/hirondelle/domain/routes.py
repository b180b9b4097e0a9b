"""Routes: which destinations a connector serves, by prefix of the international number. Pure.

A connector lists destination prefixes (international digits, e.g. "33" or "336"); an empty list,
or the prefix "", serves every number. A number that no connector serves is refused when its
campaign is accepted (listed in `invalidNumbers`, not charged) instead of waiting forever.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def match_length(phone: str, prefixes: Sequence[str]) -> int:
    """Length of the longest of `prefixes` that `phone` starts with; 0 for a catch-all (no
    prefixes), -1 when none matches."""
    if not prefixes:
        return 0
    best = -1
    for prefix in prefixes:
        if phone.startswith(prefix) and len(prefix) > best:
            best = len(prefix)
    return best


def is_served(phone: str, routes: Iterable[Sequence[str]] | None) -> bool:
    """Whether some route serves `phone`; `routes` None (no connector configured: the built-in
    simulator) serves everything."""
    return routes is None or any(match_length(phone, prefixes) >= 0 for prefixes in routes)
