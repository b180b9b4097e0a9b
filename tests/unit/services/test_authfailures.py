"""The brute-force brake: the delay of the n-th failure, per login and per address, forgetting,
and successes that never wait unless their address is penalised. Time is a fake clock and the
sleeps are recorded, never slept."""

from __future__ import annotations

import pytest

from hirondelle.authfailures import MAX_KEYS, AuthFailures, failure_delay

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def tracker() -> tuple[AuthFailures, Clock, Sleeps]:
    clock, sleeps = Clock(), Sleeps()
    failures = AuthFailures(free=3, base=0.25, cap=5.0, forget_after=900, clock=clock, sleep=sleeps)
    return failures, clock, sleeps


def test_the_delay_is_free_then_doubles_up_to_the_cap() -> None:
    delays = [failure_delay(n, free=3, base=0.25, cap=5.0) for n in range(1, 11)]
    assert delays == [0, 0, 0, 0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert failure_delay(10**6, free=3, base=0.25, cap=5.0) == 5.0


async def test_failures_of_one_login_from_many_addresses_add_up() -> None:
    failures, _clock, sleeps = tracker()
    for n in range(10):
        await failures.failed("alice", f"10.0.0.{n}")
    assert sleeps == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert failures.total == 10


async def test_failures_from_one_address_add_up_whatever_the_login() -> None:
    failures, _clock, sleeps = tracker()
    for n in range(5):
        await failures.failed(f"user{n}", "10.0.0.1")
    assert sleeps == [0.25, 0.5]


async def test_the_right_key_from_another_address_never_waits() -> None:
    failures, _clock, sleeps = tracker()
    for _ in range(10):
        await failures.failed("alice", "10.6.6.6")
    sleeps.clear()
    await failures.succeeded("192.0.2.1")
    assert sleeps == []
    await failures.succeeded("10.6.6.6")  # the attacker learns nothing faster by succeeding
    assert sleeps == [5.0]


async def test_a_quiet_key_is_forgotten() -> None:
    failures, clock, sleeps = tracker()
    for _ in range(5):
        await failures.failed("alice", "10.0.0.1")
    assert sleeps == [0.25, 0.5]
    clock.now += 901
    sleeps.clear()
    for _ in range(4):
        await failures.failed("alice", "10.0.0.1")
    assert sleeps == [0.25]


async def test_memory_is_bounded() -> None:
    failures, _clock, _sleeps = tracker()
    for n in range(MAX_KEYS // 2 + 10):
        failures.record_failure(f"address:{n}", f"login:{n}")
    assert len(failures._keys) == MAX_KEYS
