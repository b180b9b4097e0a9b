"""Keyset pages for the customer area's lists: a page of items and the cursor of the next one.

The store reads `limit + 1` rows: the extra row only says that a next page exists, and the
cursor is the key of the last row shown (`WHERE id < :cursor` or `id > :cursor` next time).
No OFFSET anywhere: page 10,000 costs what page 1 costs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from hirondelle.domain.numbers import InvalidNumber, parse_mobile

T = TypeVar("T")
R = TypeVar("R")

PAGE_SIZE = 50
MAX_CURSOR = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next: int | None  # the cursor of the next page, None on the last one


def page_of(
    rows: Sequence[R], limit: int, key: Callable[[R], int], item: Callable[[R], T]
) -> Page[T]:
    """The first `limit` of `rows` (read with limit + 1) as a page."""
    shown = rows[:limit]
    more = len(rows) > limit
    return Page([item(row) for row in shown], key(shown[-1]) if more and shown else None)


async def walk(fetch: Callable[[int | None], Awaitable[Page[T]]]) -> AsyncIterator[T]:
    """Every item of the pages `fetch(cursor)` gives, from the first page to the last: what a
    CSV export streams, reading one page at a time."""
    before: int | None = None
    while True:
        page = await fetch(before)
        for item in page.items:
            yield item
        if page.next is None:
            return
        before = page.next


def cursor(value: str | None) -> int | None:
    """A cursor from a query string: a positive whole number, anything else is the first page."""
    if value is None or not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if 0 < number <= MAX_CURSOR else None


@dataclass(frozen=True, slots=True)
class NumberSearch:
    """What a "search by number" box asks: the international digits of a valid mobile
    (`prefix` False), or the digits typed, as the start of the numbers wanted."""

    digits: str
    prefix: bool


def number_search(text: str | None) -> NumberSearch | None:
    """The search typed in a number box, or None when it holds no digit."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return NumberSearch(parse_mobile(text).digits, False)
    except InvalidNumber:
        digits = "".join(ch for ch in text if ch.isascii() and ch.isdigit())
        if digits.startswith("00"):
            digits = digits[2:]
        elif digits.startswith("0"):  # a French national number, as parse_mobile reads it
            digits = "33" + digits[1:]
        return NumberSearch(digits[:20], True) if digits else None
