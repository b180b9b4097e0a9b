"""B11 purge under load: `hirondelle purge` removes 1,000,000 messages past the retention while
B2's load (the simplified send, one recipient, 64 connections) runs against the same store.

The million old messages (500 days old, final, each with one SMPP part and two status events)
and 10,000 old replies are generated inside the database by one INSERT … SELECT per table, so
loading costs seconds, not the accept path (B1 measures that). Then a server starts, the purge
starts in its own process, and B2 requests are sent until it ends.

Figures: purge seconds and messages (and rows) per second; B2 requests per second, p99 and the
slowest request during the purge (target: none over 1 s). Reference, same run: one round of
B2 on the same server just before the purge starts. SQLite by default; PostgreSQL with
BENCH_B11_DATABASE=postgresql (a fresh database `hirondelle_bench_b11` on the local server, or
HIRONDELLE_BENCH_POSTGRES_URL).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa
from b2_small_sends import CONNECTIONS, get_request
from harness import (
    LoadResult,
    base_env,
    create_account,
    die_with_parent,
    http_load,
    report,
    server,
    workdir,
)

from hirondelle.store.engine import create_engine

MESSAGES = int(os.environ.get("BENCH_B11_MESSAGES", "1000000"))
REPLIES = 10_000
#: Messages per purge transaction (`hirondelle purge --batch`).
BATCH = os.environ.get("BENCH_B11_BATCH", "500")
#: B2 requests per round; rounds go on until the purge ends.
ROUND = 2_000
OLD = datetime.now(UTC) - timedelta(days=500)


def _series(dialect: str, count: int) -> str:
    """A FROM clause giving `n.i` = 1..count."""
    if dialect == "postgresql":
        return f"generate_series(1, {count}) AS n(i)"
    return (
        f"(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {count})"
        " SELECT i FROM s) AS n"
    )


def _padded(dialect: str, width: int) -> str:
    if dialect == "postgresql":
        return f"lpad(n.i::text, {width}, '0')"
    return f"printf('%0{width}d', n.i)"


def load_old_messages(url: str, account_id: int) -> None:
    """One old campaign of MESSAGES final messages, their parts and events, and old replies."""
    engine = create_engine(url)
    dialect = engine.dialect.name
    old = OLD.replace(tzinfo=None) if dialect == "sqlite" else OLD
    at = {"at": old}
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO campaigns (public_id, account_id, name, message, sender, kind, state,"
                " due_at, nb_contacts, nb_sms, credits, mail_notif, created_at) VALUES"
                " ('old-campaign', :account, '', 'Hello', '36180', 'sms', 'queued', :at, :n, :n,"
                " :credits, false, :at)"
            ),
            {"account": account_id, "n": MESSAGES, "credits": MESSAGES * 15, **at},
        )
        campaign = conn.execute(
            sa.text("SELECT id FROM campaigns WHERE public_id = 'old-campaign'")
        ).scalar_one()
        conn.execute(
            sa.text(
                "INSERT INTO messages (sms_id, campaign_id, account_id, phone, country, text,"
                " sender, parts, credits, status, state, due_at, expires_at, status_at,"
                f" created_at) SELECT 'old-' || {_padded(dialect, 9)}, :campaign, :account,"
                f" '337' || {_padded(dialect, 8)}, 'FR', 'Hello', '36180', 1, 15, 1, 'final',"
                f" :at, :at, :at, :at FROM {_series(dialect, MESSAGES)}"
            ),
            {"campaign": campaign, "account": account_id, **at},
        )
        where = "FROM messages WHERE campaign_id = :campaign"
        conn.execute(
            sa.text(
                "INSERT INTO message_parts (message_id, part, smsc_id, connector, status,"
                f" created_at) SELECT id, 1, sms_id, 'sim', 1, created_at {where}"
            ),
            {"campaign": campaign},
        )
        for status, detail in ((3, "submitted"), (1, "delivered")):
            conn.execute(
                sa.text(
                    "INSERT INTO message_events (message_id, status, detail, at)"
                    f" SELECT id, {status}, '{detail}', created_at {where}"
                ),
                {"campaign": campaign},
            )
        conn.execute(
            sa.text(
                "INSERT INTO replies (public_id, phone, short_code, text, received_at)"
                f" SELECT 'old-reply-' || {_padded(dialect, 6)}, '33700000000', '', 'STOP', :at"
                f" FROM {_series(dialect, REPLIES)}"
            ),
            at,
        )
    if dialect == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()


def sends(base_url: str, key: str, start: int) -> list[bytes]:
    return [
        get_request(
            base_url,
            "/http/9.0/?"
            + urlencode(
                {
                    "login": "bench",
                    "apiKey": key,
                    "mobile": f"06{10_000_000 + start + i:08d}",
                    "message": "Votre code est 123456",
                }
            ),
        )
        for i in range(ROUND)
    ]


def database_url(cwd: Path) -> str | None:
    if os.environ.get("BENCH_B11_DATABASE") != "postgresql":
        return None
    url = os.environ.get("HIRONDELLE_BENCH_POSTGRES_URL")
    if url:
        return url
    engine = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("DROP DATABASE IF EXISTS hirondelle_bench_b11 WITH (FORCE)")
        conn.exec_driver_sql("CREATE DATABASE hirondelle_bench_b11")
    engine.dispose()
    return "postgresql+psycopg://postgres@127.0.0.1:5432/hirondelle_bench_b11"


def main() -> dict[str, object]:
    with workdir() as cwd:
        env = base_env(cwd, database_url(cwd)) | {"HIRONDELLE_WORKERS": "false"}
        url = env["HIRONDELLE_DATABASE_URL"]
        key = create_account(env, cwd, "bench", credits=100_000_000)
        started = time.perf_counter()
        load_old_messages(url, account_id=1)
        load_seconds = time.perf_counter() - started
        with server(env, cwd) as srv:
            before = sends(srv.base_url, key, 0)
            reference = asyncio.run(http_load(srv.base_url, before, CONNECTIONS))
            purge = subprocess.Popen(
                [sys.executable, "-m", "hirondelle.cli", "purge", "--json", "--batch", BATCH],
                env=env, cwd=cwd, stdout=subprocess.PIPE, text=True, preexec_fn=die_with_parent,
            )  # fmt: skip
            rounds: list[LoadResult] = []
            while purge.poll() is None:
                requests = sends(srv.base_url, key, (len(rounds) + 1) * ROUND)
                rounds.append(asyncio.run(http_load(srv.base_url, requests, CONNECTIONS)))
            out, _ = purge.communicate()
        if purge.returncode:
            raise RuntimeError(f"hirondelle purge failed ({purge.returncode})")
    done = json.loads(out)
    latencies = [latency for result in rounds for latency in result.latencies]
    during = LoadResult(
        len(latencies), sum(r.seconds for r in rounds), latencies, []
    )  # the rounds that ran while the purge did, or just after its last batch
    rows = done["messages"] + done["events"] + done["parts"] + done["replies"]
    return report(
        "B11 purge under load",
        {
            "database": url.split(":", 1)[0],
            "load_seconds": round(load_seconds, 1),
            "batch": int(BATCH),
            "purged_messages": done["messages"],
            "purged_rows": rows,
            "purge_seconds": round(done["seconds"], 1),
            "purge_messages_per_s": round(done["messages"] / done["seconds"]),
            "purge_rows_per_s": round(rows / done["seconds"]),
            "b2_requests": during.requests,
            "b2_requests_per_s": round(during.per_second),
            "b2_p99_ms": round(during.percentile(99), 1),
            "b2_max_ms": round(max(latencies) * 1000, 1) if latencies else None,
            "reference_b2_requests_per_s": round(reference.per_second),
            "reference_b2_p99_ms": round(reference.percentile(99), 1),
            "reference_b2_max_ms": round(max(reference.latencies) * 1000, 1),
            "target": "no request over 1 s",
        },
    )


if __name__ == "__main__":
    main()
