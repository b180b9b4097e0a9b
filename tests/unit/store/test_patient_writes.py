"""Patient writes (SQLite): run at once, committed with the next write that cannot wait.

A receipt's write is patient (only the SMSC waits for it); a submit result's is not (a bind's
window waits for it). `Cadence` says how long a patient write's commit may wait, from the pace
of the impatient ones; here it is set so that a wait ends only by the event under test.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hirondelle.store import Store
from hirondelle.store import engine as store_engine
from hirondelle.store.engine import PATIENT_WAIT_MAX, Cadence, create_engine
from tests.unit.store.test_store_engine import WAIT, add, boom, count_commits, logins

pytestmark = pytest.mark.anyio


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    opened = Store(create_engine(sqlite_url))
    yield opened
    opened.close()


def submits_flowing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """As if impatient writes came a moment ago, at a pace that lets a patient write wait for
    the next one as long as a test needs (WAIT at most)."""
    monkeypatch.setattr(store_engine, "PATIENT_WAIT_MAX", WAIT * 2)
    store._impatient.gap = WAIT
    store._impatient.last = store_engine.time.monotonic()


def patient_write(store: Store, login: str) -> Future[str]:
    """A patient write adding `login`, once its statements ran."""
    done = threading.Event()
    write = add(login)

    def run(conn: Connection) -> str:
        result = write(conn)
        done.set()
        return result

    future = store.submit_write(run, patient=True)
    assert done.wait(WAIT)
    return future


def test_a_patient_write_commits_with_the_next_impatient_one(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    submits_flowing(sqlite_store, monkeypatch)
    commits = count_commits(sqlite_store)
    patient = patient_write(sqlite_store, "receipt")  # its statements ran at once...
    assert not patient.done()  # ...but it is not durable yet, so not answered
    assert sqlite_store.read_sync(logins) == set()
    impatient = sqlite_store.submit_write(add("result"))
    assert (patient.result(WAIT), impatient.result(WAIT)) == ("receipt", "result")
    assert len(commits) == 1
    assert sqlite_store.read_sync(logins) == {"receipt", "result"}


def test_patient_writes_gather_while_they_wait(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    submits_flowing(sqlite_store, monkeypatch)
    commits = count_commits(sqlite_store)
    waiting = [patient_write(sqlite_store, login) for login in ("first", "second")]
    failing = sqlite_store.submit_write(boom, patient=True)
    sqlite_store.submit_write(add("result")).result(WAIT)
    assert [w.result(WAIT) for w in waiting] == ["first", "second"]
    with pytest.raises(RuntimeError, match="boom"):  # rolled back alone, in its savepoint
        failing.result(WAIT)
    assert len(commits) == 1
    assert sqlite_store.read_sync(logins) == {"first", "second", "result"}


def test_a_patient_write_commits_at_once_when_no_submit_flows(sqlite_store: Store) -> None:
    commits = count_commits(sqlite_store)
    assert sqlite_store.submit_write(add("receipt"), patient=True).result(WAIT) == "receipt"
    assert len(commits) == 1


def test_close_commits_a_waiting_patient_write(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(create_engine(sqlite_url))
    submits_flowing(store, monkeypatch)
    patient = patient_write(store, "receipt")
    store.close()
    assert patient.result(0) == "receipt"
    reopened = Store(create_engine(sqlite_url))
    try:
        assert reopened.read_sync(logins) == {"receipt"}
    finally:
        reopened.close()


async def test_patient_and_impatient_writes_from_the_event_loop(sqlite_store: Store) -> None:
    patient = await sqlite_store.write(add("receipt"), patient=True)
    assert (patient, await sqlite_store.write(add("result"))) == ("receipt", "result")
    count = sa.select(sa.func.count()).select_from(sa.table("accounts"))
    assert sqlite_store.read_sync(lambda conn: conn.execute(count).scalar()) == 2


def test_the_cadence_of_impatient_writes() -> None:
    cadence = Cadence()
    assert cadence.due(5.0) == 5.0  # none yet: commit at once
    for at in (10.0, 10.004, 10.006):
        cadence.note(at)
    paced = cadence.gap
    assert 0.002 < paced < PATIENT_WAIT_MAX / 2  # the pace of the last ones
    assert cadence.due(10.007) == pytest.approx(10.006 + paced * 1.5)
    cadence.note(10.006 + PATIENT_WAIT_MAX * 3)  # after a pause: the pace is kept
    assert cadence.gap == paced
    slow = Cadence()
    slow.note(0.0)
    slow.note(PATIENT_WAIT_MAX * 0.9)
    assert slow.due(slow.last) == slow.last + PATIENT_WAIT_MAX  # never waits longer
    assert slow.due(slow.last + PATIENT_WAIT_MAX * 2) == slow.last + PATIENT_WAIT_MAX * 2
