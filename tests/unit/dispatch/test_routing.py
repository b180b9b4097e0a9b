"""Router and Route: which connectors may carry a number, best first (pure, no store)."""

from __future__ import annotations

import pytest

from hirondelle.dispatch.routing import Route, Router, owned_numbers


def router(*routes: tuple[str, tuple[str, ...]]) -> Router:
    return Router([Route(name, prefixes) for name, prefixes in routes])


@pytest.mark.parametrize(
    ("prefixes", "phone", "length"),
    [
        ((), "33612345678", 0),
        (("33",), "33612345678", 2),
        (("33", "336"), "33612345678", 3),
        (("336", "33"), "33612345678", 3),
        (("44",), "33612345678", -1),
        (("",), "33612345678", 0),
        (("3361234567890",), "33612345678", -1),
    ],
)
def test_match_length(prefixes: tuple[str, ...], phone: str, length: int) -> None:
    assert Route("c", prefixes).match_length(phone) == length


def test_longest_prefix_first() -> None:
    routes = router(("fr", ("33",)), ("fr-mobile", ("336", "337")), ("all", ()))
    assert routes.candidates("33612345678") == ("fr-mobile", "fr", "all")
    assert routes.candidates("33112345678") == ("fr", "all")


def test_ties_keep_configuration_order() -> None:
    routes = router(("b", ("33",)), ("a", ("33",)), ("z", ()), ("y", ()))
    assert routes.candidates("33612345678") == ("b", "a", "z", "y")


def test_catch_all_carries_any_number() -> None:
    routes = router(("uk", ("44",)), ("all", ()), ("empty-string", ("",)))
    assert routes.candidates("33612345678") == ("all", "empty-string")
    assert routes.candidates("447700900123") == ("uk", "all", "empty-string")


def test_no_matching_connector() -> None:
    assert router(("uk", ("44",)), ("be", ("32",))).candidates("33612345678") == ()
    assert Router([]).candidates("33612345678") == ()


def test_numbers_shorter_than_six_digits_are_not_cached() -> None:
    routes = router(("short", ("3361",)), ("fr", ("33",)))
    assert routes.candidates("3361") == ("short", "fr")
    assert routes.candidates("3362") == ("fr",)
    assert routes.candidates("33") == ("fr",)
    assert routes._cache == {}


def test_cache_shares_one_answer_per_six_digit_start() -> None:
    routes = router(("mobile", ("33612",)), ("fr", ("33",)))
    assert routes.candidates("33612000001") == ("mobile", "fr")
    assert routes._cache == {"336120": ("mobile", "fr")}
    assert routes.candidates("33612999999") == ("mobile", "fr")
    assert routes.candidates("33712000001") == ("fr",)


def test_prefixes_longer_than_six_digits_are_never_cached() -> None:
    """Same 6-digit start, different 7-digit prefixes: each number gets its own answer."""
    routes = router(("seven", ("3361234",)), ("eight", ("3361235",)), ("fr", ("33",)))
    assert routes.candidates("33612341111") == ("seven", "fr")
    assert routes.candidates("33612351111") == ("eight", "fr")
    assert routes.candidates("33612361111") == ("fr",)
    assert routes.candidates("33612341111") == ("seven", "fr")
    assert routes._cache == {}


def matches(phone: str, filters: list[tuple[str, tuple[str, ...]]]) -> bool:
    """What the claim's SQL (`phone LIKE p% AND phone NOT LIKE q%…`, OR'ed) keeps."""
    return any(
        phone.startswith(prefix) and not any(phone.startswith(q) for q in excluded)
        for prefix, excluded in filters
    )


ROUTES = [
    Route("fr", ("33",)),
    Route("fr-mobile", ("336", "337")),
    Route("any", ()),
    Route("be", ("32",)),
    Route("fr-too", ("33",)),
]
PHONES = ["33612345678", "33712345678", "33123456789", "32470000000", "447700900123", "336"]


@pytest.mark.parametrize(
    "owned",
    [set(), {"fr"}, {"fr-mobile"}, {"any"}, {"be", "fr-too"}, {"fr", "any"}, {"fr-too"}],
)
def test_owned_numbers_are_those_whose_best_route_is_owned(owned: set[str]) -> None:
    filters = owned_numbers(ROUTES, owned)
    assert filters is not None
    ranked = Router(ROUTES)
    for phone in PHONES:
        best = ranked.candidates(phone)[0]
        assert matches(phone, filters) == (best in owned), (phone, best)


def test_owning_every_connector_needs_no_filter() -> None:
    assert owned_numbers(ROUTES, {route.connector for route in ROUTES}) is None
