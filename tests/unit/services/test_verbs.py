"""One verb per meaning in services (issue "The house in order"): `record_*` is the async edge,
one transaction of its own; `apply_*` is the same work inside a caller's transaction (its first
parameter the connection); `store_*` is no service's verb — storing is what `store/` does."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from typing import Any

import hirondelle.services


def service_functions() -> Iterator[tuple[str, Callable[..., Any]]]:
    for info in pkgutil.iter_modules(hirondelle.services.__path__):
        module = importlib.import_module(f"hirondelle.services.{info.name}")
        for name, value in vars(module).items():
            if inspect.isfunction(value) and value.__module__ == module.__name__:
                yield f"{info.name}.{name}", value


FUNCTIONS = dict(service_functions())


def test_record_is_async_and_has_its_apply_twin() -> None:
    records = {n: f for n, f in FUNCTIONS.items() if n.split(".")[1].startswith("record_")}
    assert records
    for name, function in records.items():
        assert inspect.iscoroutinefunction(function), name
        twin = name.replace(".record_", ".apply_")
        assert twin in FUNCTIONS, f"{name} has no {twin}"


def test_apply_runs_inside_a_transaction() -> None:
    for name, function in FUNCTIONS.items():
        if name.split(".")[1].startswith("apply_"):
            assert not inspect.iscoroutinefunction(function), name
            first = next(iter(inspect.signature(function).parameters))
            assert first == "conn", name


def test_no_service_is_named_store() -> None:
    assert not [n for n in FUNCTIONS if n.split(".")[1].startswith("store_")]
