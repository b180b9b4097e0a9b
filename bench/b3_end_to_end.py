"""B3 end to end: 100,000 messages accepted, submitted over one SMPP bind (window 100, no TPS
limit) to the simulator in its own process, receipts stored.

Figure: messages per second from the first accept to the last receipt stored, on SQLite and on
PostgreSQL (when HIRONDELLE_BENCH_POSTGRES_URL is set, or a local server answers), as one
`serve` process and, on PostgreSQL, as `web` + `worker` (`--mode web+worker`), with each role's
CPU-seconds per 1,000 messages, PostgreSQL's server processes among them. Reference, measured
in the same run: a plain asyncio SMPP client (our SmppSession, no store) submitting the
same number of messages to the same simulator with the same window — the practical ceiling.

The simulator answers ESME_RTHROTTLED once to every number ending in 7777 (one in 10,000), and
an SMPP client then pauses the bind (1 s, as Kannel's `throttling-err-time`): ten pauses in
100,000 messages, for the reference as for Hirondelle. The reference is also measured without
those pauses (`throttle_delay` of 1 ms), to show what they cost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import time

import sqlalchemy as sa
from harness import (
    base_env,
    cpu_seconds,
    create_account,
    form_request,
    http_load,
    postgres_cpu,
    postgres_cpu_since,
    report,
    server,
    simulator_process,
    workdir,
    worker,
)

from hirondelle.smpp.errors import SubmitError
from hirondelle.smpp.messages import build_submits
from hirondelle.smpp.session import SessionConfig, SmppSession
from hirondelle.store.engine import create_engine

MESSAGES = int(os.environ.get("BENCH_B3_MESSAGES", "100000"))
PER_CALL = 2_000
WINDOW = 100


def feed(call: int) -> str:
    numbers = [f"06{30_000_001 + call * PER_CALL + i:08d}" for i in range(PER_CALL)]
    return json.dumps({"DATA": {"MESSAGE": "Hello", "SMS": [{"MOBILEPHONE": n} for n in numbers]}})


#: An account's messages in a final status, from its kept counts (store/traffic.py): the rows
#: of its totals (campaign_id -1), one per hour, written in the transactions that make messages
#: final. A status a receipt changes again moves between these counters, never adds to them.
FINAL_COUNT = (
    "SELECT coalesce(sum(delivered + not_delivered + rejected + unknown + refused), 0)"
    " FROM traffic_counts WHERE campaign_id = -1 AND account_id = :account"
)


def wait_until_final(url: str, login: str, messages: int, deadline: float) -> float:
    """Wait until the `messages` of `login` (this run's account: the database may hold earlier
    runs) have all reached a final status, and return that moment (`time.perf_counter`); raise
    after `deadline` (monotonic), or when the messages table does not agree.

    One connection for the whole wait, and each poll reads the account's counts: a few rows by
    primary key. Counting the messages themselves, even the few on their way through the due
    index, read the whole index range of the queued ones (and the dead entries the run's updates
    leave there): 11 ms of PostgreSQL's CPU per poll, 5 % of a core taken from the run it
    measured (pg_stat_statements, B3 on PostgreSQL, 2026-12-04). The messages table is counted
    once, after the moment is taken."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            account = conn.execute(
                sa.text("SELECT id FROM accounts WHERE login = :login"), {"login": login}
            ).scalar_one()
            while conn.execute(sa.text(FINAL_COUNT), {"account": account}).scalar() < messages:
                conn.rollback()  # a fresh snapshot for the next poll
                if time.monotonic() > deadline:
                    raise RuntimeError(f"not all messages of {login} final in time")
                time.sleep(0.2)
            done = time.perf_counter()
            conn.rollback()
            final = conn.execute(
                sa.text("SELECT count(*) FROM messages WHERE state = 'final' AND account_id = :a"),
                {"a": account},
            ).scalar()
    finally:
        engine.dispose()
    if final != messages:
        raise RuntimeError(f"{final} messages of {login} final, {messages} accepted")
    return done


def end_to_end(
    database_url: str | None,
    label: str,
    *,
    mode: str = "serve",
    binds: int = 1,
    bind_tps: float = 0,
    messages: int = MESSAGES,
) -> dict[str, object]:
    """`mode` "serve" (one process) or "web+worker" (PostgreSQL: `hirondelle web` and
    `hirondelle worker`, each its own process). CPU-seconds per 1,000 messages of each role
    come from /proc/<pid>/stat, from the first accept to the last receipt stored."""
    sim_options = ("--bind-tps", str(bind_tps)) if bind_tps else ()
    with workdir() as cwd, simulator_process(0.0, *sim_options) as sim_port:
        env = base_env(cwd, database_url)
        url = env["HIRONDELLE_DATABASE_URL"]
        (cwd / "hirondelle.toml").write_text(
            f'[[connectors]]\nname = "sim"\nhost = "127.0.0.1"\nport = {sim_port}\n'
            f'system_id = "bench"\nwindow = {WINDOW}\nbinds = {binds}\n'
        )
        subprocess.run(
            [os.sys.executable, "-m", "hirondelle.cli", "db", "upgrade"],  # type: ignore[attr-defined]
            env=env, cwd=cwd, check=True, capture_output=True,
        )  # fmt: skip
        login = f"bench{int(time.time())}"
        key = create_account(env, cwd, login, credits=messages * 15)
        with contextlib.ExitStack() as stack:
            roles: dict[str, int] = {}
            if mode == "web+worker":
                roles["worker"] = stack.enter_context(worker(env, cwd)).pid
                srv = stack.enter_context(server(env, cwd, command="web"))
                roles["web"] = srv.pid
            else:
                srv = stack.enter_context(server(env, cwd))
                roles["serve"] = srv.pid
            requests = [
                form_request(
                    srv.base_url,
                    "/http/9.0/sendSms",
                    {"login": login, "apiKey": key, "smsData": feed(call)},
                )
                for call in range(messages // PER_CALL)
            ]
            cpu_before = {role: cpu_seconds(pid) for role, pid in roles.items()}
            server_before = postgres_cpu() if database_url else {}
            started = time.perf_counter()
            accepted = asyncio.run(http_load(srv.base_url, requests, 4))
            accept_seconds = time.perf_counter() - started
            seconds = wait_until_final(url, login, messages, time.monotonic() + 900) - started
            cpu = {role: cpu_seconds(pid) - cpu_before[role] for role, pid in roles.items()}
            if database_url:
                cpu["postgresql"] = postgres_cpu_since(server_before)
    figures: dict[str, object] = {
        f"{label}_messages_per_s": round(messages / seconds),
        f"{label}_seconds": round(seconds, 1),
        f"{label}_accept_seconds": round(accept_seconds, 1),
        f"{label}_accept_calls": accepted.requests,
    }
    for role, used in cpu.items():
        figures[f"{label}_{role}_cpu_s_per_1000"] = round(used / (messages / 1000), 3)
    return figures


async def bare_client(port: int, throttle_delay: float = 1.0) -> float:
    config = SessionConfig(
        host="127.0.0.1",
        port=port,
        system_id="ref",
        window=WINDOW,
        throttle_delay=throttle_delay,
    )
    async with SmppSession(config) as session:
        await session.wait_bound(10)
        pdus = [
            build_submits("Hello", "36180", f"336{30_000_001 + i:08d}")[0] for i in range(MESSAGES)
        ]
        gate = asyncio.Semaphore(WINDOW * 2)

        async def one(pdu: object) -> None:
            async with gate:
                with contextlib.suppress(SubmitError):  # the simulator refuses ...9999
                    await session.submit(pdu)  # type: ignore[arg-type]

        started = time.perf_counter()
        await asyncio.gather(*(one(pdu) for pdu in pdus))
        return MESSAGES / (time.perf_counter() - started)


def postgres_url(database: str = "hirondelle_bench") -> str | None:
    """HIRONDELLE_BENCH_POSTGRES_URL, else `database` created afresh on 127.0.0.1:5432."""
    url = os.environ.get("HIRONDELLE_BENCH_POSTGRES_URL")
    if url:
        return url
    try:
        engine = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            conn.exec_driver_sql(f"CREATE DATABASE {database}")
        engine.dispose()
    except Exception:
        return None
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"


def main(modes: tuple[str, ...] = ("serve", "web+worker")) -> dict[str, object]:
    figures: dict[str, object] = {"messages": MESSAGES, "window": WINDOW}
    with simulator_process() as port:
        figures["reference_bare_smpp_client_per_s"] = round(asyncio.run(bare_client(port)))
    with simulator_process() as port:  # a fresh one: it throttles each 7777 number only once
        no_pause = asyncio.run(bare_client(port, throttle_delay=0.001))
        figures["reference_without_throttle_pauses_per_s"] = round(no_pause)
    if "serve" in modes:
        figures.update(end_to_end(None, "sqlite"))
    pg = postgres_url()
    if pg is None:
        figures["postgresql"] = "skipped: no PostgreSQL server answered"
    else:
        if "serve" in modes:
            figures.update(end_to_end(pg, "postgresql"))
        if "web+worker" in modes:
            pg = postgres_url()  # a fresh database
            assert pg is not None
            figures.update(end_to_end(pg, "postgresql_web_worker", mode="web+worker"))
    figures["target"] = ">= 5000 messages/s sustained on SQLite"
    return report("B3 end to end", figures)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--mode",
        choices=["serve", "web+worker", "all"],
        default="all",
        help="serve: one process (SQLite and PostgreSQL); web+worker: two (PostgreSQL)",
    )
    chosen = parser.parse_args().mode
    main(("serve", "web+worker") if chosen == "all" else (chosen,))
