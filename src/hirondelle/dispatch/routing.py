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


#: (prefix, prefixes excluded from it): numbers starting with the first and none of the others.
PrefixFilter = tuple[str, tuple[str, ...]]


def owned_numbers(routes: Sequence[Route], owned: set[str]) -> list[PrefixFilter] | None:
    """The numbers whose best route is a connector of `owned`, as prefix filters for the claim;
    None when every connector is owned (no filter), [] when none is.

    A number belongs to the connector of its longest matching prefix (ties: the first in
    configuration order), as in `Router.candidates`: a worker leaves to the owner of a more
    specific route the numbers it serves.
    """
    if all(route.connector in owned for route in routes):
        return None
    filters: list[PrefixFilter] = []
    for index, route in enumerate(routes):
        if route.connector not in owned:
            continue
        for prefix in route.prefixes or ("",):
            excluded: list[str] = []
            for other_index, other in enumerate(routes):
                if other.connector in owned:
                    continue
                for longer in other.prefixes or ("",):
                    beats = len(longer) > len(prefix) or (
                        len(longer) == len(prefix) and other_index < index
                    )
                    if longer.startswith(prefix) and beats:
                        excluded.append(longer)
            if prefix not in excluded:
                filters.append((prefix, tuple(sorted(set(excluded)))))
    return filters
