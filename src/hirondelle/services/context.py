"""What every service needs: the store, the settings, the secret key and the price table."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from hirondelle.config import Settings, ensure_secret_key
from hirondelle.store import Store, open_store

if TYPE_CHECKING:
    from hirondelle.domain.pricing import PriceTable


@dataclass
class Context:
    store: Store
    settings: Settings
    secret: bytes

    @cached_property
    def prices(self) -> PriceTable:
        from hirondelle.domain.pricing import PriceTable

        if self.settings.price_table:
            return PriceTable.load(self.settings.price_table)
        return PriceTable.default()

    def close(self) -> None:
        self.store.close()


def open_context(settings: Settings) -> Context:
    """Open the store (migrating it) and gather what services need."""
    return Context(
        store=open_store(settings.database_url),
        settings=settings,
        secret=ensure_secret_key(settings).encode(),
    )
