"""What every service needs: the store, the settings, the secret key and the price table."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from hirondelle.config import Settings, ensure_secret_key
from hirondelle.store import Store, open_store

if TYPE_CHECKING:
    from hirondelle.authfailures import AuthFailures
    from hirondelle.domain.networks import Network
    from hirondelle.domain.pricing import PriceTable
    from hirondelle.domain.throttle import Throttles


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    store: Store
    settings: Settings
    secret: bytes
    #: set when messages were queued, so the dispatcher looks at once instead of at its next tick
    new_messages: asyncio.Event = field(default_factory=asyncio.Event)
    #: "now" (aware, UTC) for the services that take it from here; tests fix it
    clock: Callable[[], datetime] = utc_now
    #: the seconds of the throughput buckets (services/access.py): monotonic, never stepped by
    #: NTP; tests drive it by hand
    ticks: Callable[[], float] = time.monotonic
    #: account id -> (its allowlist_version, its networks): this process's copy of the lists
    allowlists: dict[int, tuple[int, tuple[Network, ...]]] = field(default_factory=dict)
    #: login -> (ticks when read, API-key digest, the account): the sends' recent
    #: authentications (services/accounts.py, typed loosely: context/ may not import services/)
    recent_auth: dict[str, tuple[float, str, object]] = field(default_factory=dict)
    #: the process's `services.send_coalescer.SendCoalescer` of each kind of sender ("http",
    #: "smpp"), made at its first batched send (typed loosely: context/ may not import services/)
    send_coalescers: dict[str, object] = field(default_factory=dict, repr=False, compare=False)

    def notify_new_messages(self) -> None:
        self.new_messages.set()

    @cached_property
    def prices(self) -> PriceTable:
        from hirondelle.domain.pricing import PriceTable

        if self.settings.price_table:
            return PriceTable.load(self.settings.price_table)
        return PriceTable.default()

    @cached_property
    def auth_failures(self) -> AuthFailures:
        return self._brake()

    @cached_property
    def reset_brake(self) -> AuthFailures:
        """Forgotten-password requests, per login and per address (services/password_resets.py):
        a brake of their own, so that they neither count as failed sign-ins nor slow them."""
        return self._brake()

    def _brake(self) -> AuthFailures:
        from hirondelle.authfailures import AuthFailures

        settings = self.settings
        return AuthFailures(
            free=settings.auth_free_failures,
            cap=settings.auth_max_delay,
            forget_after=settings.auth_failure_window,
        )

    @cached_property
    def throttles(self) -> Throttles:
        from hirondelle.domain.throttle import Throttles

        settings = self.settings
        return Throttles(
            clock=lambda: self.ticks(),
            burst=settings.throttle_burst,
            share=settings.throttle_processes,
        )

    def close(self) -> None:
        self.store.close()


def open_context(settings: Settings) -> Context:
    """Open the store (migrating it) and gather what services need."""
    return Context(
        store=open_store(settings.database_url),
        settings=settings,
        secret=ensure_secret_key(settings).encode(),
    )
