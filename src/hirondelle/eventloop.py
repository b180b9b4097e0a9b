"""The event loop every process of Hirondelle runs on, with the collector set for its load.

A module of its own, importing nothing of the package: the webhook sender's child process
(webhook_child.py) starts its loop without loading the web application.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from typing import Any

import uvloop


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop (with httptools for HTTP): measured (bench/b2_small_sends.py) several times
    faster than the default asyncio loop with h11 for small requests."""
    # A 2,000-recipient feed is tens of thousands of short-lived objects: with CPython's default
    # thresholds the collector ran every few hundred allocations and a full collection took
    # 50 ms in the middle of requests. Freeze what start-up made and collect less often.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)
