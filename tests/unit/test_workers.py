"""Stopping the workers: a task that fails or hangs on the way out is logged, not swallowed."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hirondelle.workers import _finish

pytestmark = pytest.mark.anyio


async def test_a_task_that_fails_while_stopping_is_logged(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def fail() -> None:
        raise RuntimeError("the store went away")

    task = asyncio.create_task(fail())
    await _finish("the dispatcher", task)
    [record] = [r for r in caplog.records if r.name == "hirondelle.workers"]
    assert record.levelno == logging.ERROR
    assert "the dispatcher failed while stopping" in record.getMessage()
    assert record.exc_info is not None and "the store went away" in str(record.exc_info[1])


async def test_a_task_that_does_not_stop_is_cancelled_and_logged(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    never = asyncio.Event()
    task = asyncio.create_task(never.wait())
    await _finish("the email sender", task, timeout=0.01)
    assert task.cancelled()
    assert "the email sender did not stop within" in caplog.text


async def test_a_task_that_stops_says_nothing(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def stop() -> None:
        return None

    await _finish("the dispatcher", asyncio.create_task(stop()))
    assert not [r for r in caplog.records if r.name == "hirondelle.workers"]
