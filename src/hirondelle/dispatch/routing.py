"""Routing: which connectors may carry a message, best first. Pure.

Each connector lists destination prefixes (international digits, e.g. "33" or "336"); an empty
list or "" means "anything". For a number, connectors are ranked by their longest matching
prefix, ties in configuration order; the dispatcher takes the first that is bound and fails
over to the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hirondelle.domain import routes


@dataclass(frozen=True)
class Route:
    connector: str
    prefixes: tuple[str, ...]

    def match_length(self, phone: str) -> int:
        """Length of the longest prefix matching `phone` (0 for a catch-all), -1 if none."""
        return routes.match_length(phone, self.prefixes)


class Router:
    def __init__(self, routes: Sequence[Route]) -> None:
        self.routes = list(routes)
        self._cache: dict[str, tuple[str, ...]] = {}

    def candidates(self, phone: str) -> tuple[str, ...]:
        """Connectors that may carry a message to `phone`, best first."""
        key = phone[:6]
        if key in self._cache and len(phone) >= 6:
            return self._cache[key]
        ranked = sorted(
            (
                (route.match_length(phone), index, route.connector)
                for index, route in enumerate(self.routes)
            ),
            key=lambda item: (-item[0], item[1]),
        )
        result = tuple(name for length, _index, name in ranked if length >= 0)
        if len(phone) >= 6 and all(len(p) <= 6 for r in self.routes for p in r.prefixes):
            self._cache[key] = result
        return result
