"""B3 end to end: 100,000 messages accepted, submitted over one SMPP bind (window 100, no TPS
limit) to the simulator in its own process, receipts stored.

Figure: messages per second from the first accept to the last receipt stored, on SQLite and on
PostgreSQL (when HIRONDELLE_BENCH_POSTGRES_URL is set, or a local server answers). Reference,
measured in the same run: a plain asyncio SMPP client (our SmppSession, no store) submitting the
same number of messages to the same simulator with the same window — the practical ceiling.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import time

import sqlalchemy as sa
from harness import (
    base_env,
    create_account,
    form_request,
    http_load,
    report,
    server,
    simulator_process,
    workdir,
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


def final_messages(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(
                conn.exec_driver_sql("SELECT count(*) FROM messages WHERE state = 'final'").scalar()
                or 0
            )
    finally:
        engine.dispose()


def end_to_end(database_url: str | None, label: str) -> dict[str, object]:
    with workdir() as cwd, simulator_process() as sim_port:
        env = base_env(cwd, database_url)
        url = env["HIRONDELLE_DATABASE_URL"]
        (cwd / "hirondelle.toml").write_text(
            f'[[connectors]]\nname = "sim"\nhost = "127.0.0.1"\nport = {sim_port}\n'
            f'system_id = "bench"\nwindow = {WINDOW}\n'
        )
        subprocess.run(
            [os.sys.executable, "-m", "hirondelle.cli", "db", "upgrade"],  # type: ignore[attr-defined]
            env=env, cwd=cwd, check=True, capture_output=True,
        )  # fmt: skip
        key = create_account(env, cwd, f"bench{int(time.time())}", credits=MESSAGES * 15)
        login = json.loads(
            subprocess.run(
                [os.sys.executable, "-m", "hirondelle.cli", "accounts", "list", "--json"],  # type: ignore[attr-defined]
                env=env, cwd=cwd, check=True, capture_output=True, text=True,
            ).stdout
        )[-1]["login"]  # fmt: skip
        with server(env, cwd) as srv:
            requests = [
                form_request(
                    srv.base_url,
                    "/http/9.0/sendSms",
                    {"login": login, "apiKey": key, "smsData": feed(call)},
                )
                for call in range(MESSAGES // PER_CALL)
            ]
            started = time.perf_counter()
            accepted = asyncio.run(http_load(srv.base_url, requests, 4))
            accept_seconds = time.perf_counter() - started
            while final_messages(url) < MESSAGES:
                time.sleep(0.2)
                if time.perf_counter() - started > 600:
                    raise RuntimeError("B3 did not finish in 10 minutes")
            seconds = time.perf_counter() - started
    return {
        f"{label}_messages_per_s": round(MESSAGES / seconds),
        f"{label}_seconds": round(seconds, 1),
        f"{label}_accept_seconds": round(accept_seconds, 1),
        f"{label}_accept_calls": accepted.requests,
    }


async def bare_client(port: int) -> float:
    config = SessionConfig(host="127.0.0.1", port=port, system_id="ref", window=WINDOW)
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


def main() -> dict[str, object]:
    figures: dict[str, object] = {"messages": MESSAGES, "window": WINDOW}
    with simulator_process() as port:
        figures["reference_bare_smpp_client_per_s"] = round(asyncio.run(bare_client(port)))
    figures.update(end_to_end(None, "sqlite"))
    pg = postgres_url()
    if pg is None:
        figures["postgresql"] = "skipped: no PostgreSQL server answered"
    else:
        figures.update(end_to_end(pg, "postgresql"))
    figures["target"] = ">= 5000 messages/s sustained on SQLite"
    return report("B3 end to end", figures)


if __name__ == "__main__":
    main()
