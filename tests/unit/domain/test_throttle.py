"""Token buckets on a clock the test moves by hand: no waiting."""

from __future__ import annotations

import pytest

from hirondelle.domain.throttle import Throttles, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_passes_its_capacity_then_refuses_with_the_wait() -> None:
    bucket = TokenBucket.full(rate=50, capacity=5, now=0.0)
    assert [bucket.take(1, 0.0) for _ in range(5)] == [0.0] * 5
    assert bucket.take(1, 0.0) == pytest.approx(0.02)  # one token comes back in 1/50 s
    assert bucket.take(1, 0.01) == pytest.approx(0.01)  # a refusal takes nothing
    assert bucket.take(1, 0.02) == 0.0


def test_a_request_of_several_tokens_passes_whole_or_not_at_all() -> None:
    bucket = TokenBucket.full(rate=10, capacity=5, now=0.0)
    assert bucket.take(3, 0.0) == 0.0
    assert bucket.take(3, 0.0) == pytest.approx(0.1)  # 2 left: one more token needed
    assert bucket.tokens == pytest.approx(2)
    assert bucket.take(3, 0.1) == 0.0


def test_a_request_bigger_than_the_bucket_passes_when_full_and_leaves_a_debt() -> None:
    bucket = TokenBucket.full(rate=50, capacity=5, now=0.0)
    assert bucket.take(1, 0.0) == 0.0
    assert bucket.take(2000, 0.0) == pytest.approx(1 / 50)  # waits for a full bucket
    assert bucket.take(2000, 0.02) == 0.0  # full: the campaign passes whole
    # ... and nothing passes until the debt is paid: 2,000 messages at 50/s is 40 s
    assert bucket.take(1, 0.02) == pytest.approx(1996 / 50)
    assert bucket.take(1, 0.02 + 39.9) > 0
    assert bucket.take(1, 0.02 + 40.0) == 0.0


def test_a_clock_that_steps_back_refills_nothing() -> None:
    bucket = TokenBucket.full(rate=1, capacity=1, now=100.0)
    assert bucket.take(1, 100.0) == 0.0
    assert bucket.take(1, 50.0) == pytest.approx(1.0)
    assert bucket.take(1, 101.0) == 0.0


def test_give_back() -> None:
    bucket = TokenBucket.full(rate=1, capacity=3, now=0.0)
    bucket.take(3, 0.0)
    bucket.give_back(2)
    assert bucket.tokens == 2
    bucket.give_back(10)
    assert bucket.tokens == 3  # never above the capacity


def test_never_more_than_rate_times_one_plus_burst_in_any_second() -> None:
    """Driven at 200/s for 10 s, a limit of 50/s passes at most 55 in any one-second window
    (a full bucket of 0.1 s at the start), 50 in every later one."""
    clock = Clock()
    throttles = Throttles(clock=clock, burst=0.1)
    start = clock.now
    accepted: list[float] = []
    for tick in range(2000):
        clock.now = start + tick / 200
        if throttles.take("alice", 50) == 0.0:
            accepted.append(clock.now - start)
    per_second = [sum(1 for t in accepted if s <= t < s + 1) for s in range(10)]
    assert 54 <= per_second[0] <= 55  # (floating-point edges of the ticks)
    assert all(49 <= n <= 51 for n in per_second[1:]), per_second
    sliding = [sum(1 for t in accepted if s / 10 <= t < s / 10 + 1) for s in range(90)]
    assert max(sliding) <= 55


def test_buckets_are_per_key_and_follow_a_changed_limit() -> None:
    clock = Clock()
    throttles = Throttles(clock=clock, burst=1.0)
    assert throttles.take("a", 2, 2) == 0.0
    assert throttles.take("a", 2) > 0
    assert throttles.take("b", 2) == 0.0  # another account, another bucket
    assert throttles.take("a", 100) == pytest.approx(0.01)  # raised: it refills faster
    assert throttles.buckets["a"].rate == 100
    clock.now += 0.01
    assert throttles.take("a", 100) == 0.0
    clock.now += 1
    assert throttles.take("a", 1, 1) == 0.0
    assert throttles.buckets["a"].capacity == 1.0  # and lowered


def test_the_share_of_one_process_among_several() -> None:
    clock = Clock()
    throttles = Throttles(clock=clock, burst=1.0, share=4)
    assert throttles.take("a", 40, 10) == 0.0  # 40/s over 4 processes: 10/s here
    assert throttles.take("a", 40) == pytest.approx(0.1)


def test_full_idle_buckets_are_forgotten_past_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hirondelle.domain.throttle.MAX_BUCKETS", 3)
    clock = Clock()
    throttles = Throttles(clock=clock)
    for key in "abc":
        throttles.take(key, 10)
    clock.now += 10  # all full again
    throttles.take("d", 10)
    assert list(throttles.buckets) == ["d"]
