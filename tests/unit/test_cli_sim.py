"""`hirondelle sim mo` against a real server on 127.0.0.1; `hirondelle smsc-sim` as a process."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from typer.testing import CliRunner

from hirondelle.app import create_app
from hirondelle.cli import app
from hirondelle.config import ConnectorConfig, Settings
from hirondelle.context import Context
from hirondelle.smpp.session import SessionConfig, SmppSession
from hirondelle.store import Store
from hirondelle.store.engine import create_engine
from hirondelle.store.schema import blacklist, messages, replies
from tests.conftest import TEST_SECRET, make_settings
from tests.helpers import make_account
from tests.integration.test_delivery_embedded import wait_until
from tests.processes import Running


@contextmanager
def serving(settings: Settings) -> Iterator[tuple[Context, str]]:
    """The application under uvicorn on a thread, on 127.0.0.1 and a free port."""
    store = Store(create_engine(settings.database_url))
    ctx = Context(store=store, settings=settings, secret=TEST_SECRET)
    config = uvicorn.Config(
        create_app(ctx), host="127.0.0.1", port=0, log_config=None, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive())
        assert server.started, "the server did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        yield ctx, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        ctx.close()


def sim_mo(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, ["sim", "mo", *args], prog_name="hirondelle")
    assert result.exit_code == code, result.output
    return result.output


def rows(ctx: Context, query: Any) -> list[tuple[Any, ...]]:
    return ctx.store.read_sync(lambda conn: [tuple(row) for row in conn.execute(query)])


def test_sim_mo_reaches_the_store_and_stop_blacklists(database_url: str, tmp_path: Path) -> None:
    with serving(make_settings(database_url, tmp_path, workers=True)) as (ctx, base):
        creds = make_account(ctx)
        feed = {"DATA": {"MESSAGE": "Hi", "SMS": [{"MOBILEPHONE": "0611111111"}]}}
        sent = httpx.post(
            f"{base}/http/9.0/sendSms", data=creds.params(smsData=json.dumps(feed)), timeout=10
        )
        assert sent.status_code == 200, sent.text
        sent_states = sa.select(messages.c.id).where(messages.c.state.in_(("submitted", "final")))
        wait_until(lambda: len(rows(ctx, sent_states)) == 1)

        output = sim_mo("+33611111111", "STOP", "--server", base + "/")
        # The server's thread logs to the same captured stdout: pick the command's own line.
        (answer,) = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
        assert answer == {"status": "injected", "from": "+33611111111", "to": "36180"}
        sim_mo("33622222222", "Bonjour", "--to", "38000", "--server", base)

        received = sa.select(
            replies.c.phone, replies.c.short_code, replies.c.text, replies.c.keyword
        )
        wait_until(lambda: len(rows(ctx, received)) == 2)
        assert sorted(rows(ctx, received)) == [
            ("33611111111", "36180", "STOP", "stop"),
            ("33622222222", "38000", "Bonjour", None),
        ]
        listed = sa.select(blacklist.c.phone, blacklist.c.comment)
        assert rows(ctx, listed) == [("33611111111", "stop")]


def test_sim_mo_needs_an_embedded_simulator(sqlite_url: str, tmp_path: Path) -> None:
    with socket.socket() as closed:  # bound, never listening: the connector is refused
        closed.bind(("127.0.0.1", 0))
        operator = ConnectorConfig(
            name="op", host="127.0.0.1", port=closed.getsockname()[1], system_id="me"
        )
        settings = make_settings(sqlite_url, tmp_path, workers=True, connectors=[operator])
        with serving(settings) as (_ctx, base):
            output = sim_mo("33611111111", "STOP", "--server", base, code=1)
    assert "Error: no embedded simulator in this process" in output


def test_sim_mo_unreachable_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        assert f"Error: cannot reach {base}" in sim_mo("336", "Hi", "--server", base, code=1)
        # Without --server: the configured address, a wildcard one reached over loopback.
        monkeypatch.setenv("HIRONDELLE_HOST", "0.0.0.0")
        monkeypatch.setenv("HIRONDELLE_PORT", str(port))
        assert f"Error: cannot reach {base}:" in sim_mo("336", "Hi", code=1)


def test_smsc_sim_process_accepts_a_bind(tmp_path: Path) -> None:
    with Running(["smsc-sim", "--port", "0"], cwd=tmp_path) as sim:
        port = int(sim.expect(r"SMSC simulator listening on 127\.0\.0\.1:(\d+)$")[1])

        async def bind() -> int:
            session = SmppSession(SessionConfig(host="127.0.0.1", port=port, system_id="x"))
            await session.start()
            try:
                await session.wait_bound(10)
                return session.stats.bound
            finally:
                await session.close()

        assert asyncio.run(bind()) == 1


def test_smsc_sim_runs_on_the_loop_of_every_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """`hirondelle smsc-sim` ran on the default asyncio loop, without the collector settings,
    where every other process runs on uvloop (eventloop.run_loop): in B3 the simulator answers
    each window between two turns of the worker, and its loop was a share of every turn."""
    import hirondelle.eventloop

    ran: list[str] = []

    def run_loop(main: Any) -> None:
        ran.append(main.__qualname__)
        main.close()

    def asyncio_run(main: Any) -> None:
        main.close()
        raise AssertionError("smsc-sim started the default asyncio loop")

    monkeypatch.setattr(hirondelle.eventloop, "run_loop", run_loop)
    monkeypatch.setattr(asyncio, "run", asyncio_run)
    result = CliRunner().invoke(app, ["smsc-sim", "--port", "0"])
    assert result.exit_code == 0, result.output
    assert ran == ["run_simulator"]
