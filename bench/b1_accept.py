"""B1 accept: sendSms (JSON feed) with 2,000 recipients, 4 concurrent clients, SQLite FULL sync.

Figures: recipients accepted per second, p50 and p99 latency of one call. Reference, measured in
the same run: the bare SQLite executemany of the same 2,000 message rows per transaction, with
the same pragmas — the storage ceiling the accept path cannot beat.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from pathlib import Path

from harness import base_env, create_account, form_request, http_load, report, server, workdir

RECIPIENTS = 2_000
CALLS = 40
CLIENTS = 4


def feed(call: int) -> str:
    numbers = [f"06{(call * RECIPIENTS + i) % 100_000_000:08d}" for i in range(RECIPIENTS)]
    message = "Bonjour, votre commande est prête. STOP au 36180"
    return json.dumps({"DATA": {"MESSAGE": message, "SMS": [{"MOBILEPHONE": n} for n in numbers]}})


def reference_inserts(path: Path) -> float:
    """Rows per second of the bare executemany, same pragmas, one transaction per 2,000."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE m (id INTEGER PRIMARY KEY, sms_id TEXT UNIQUE, campaign_id INT, phone TEXT,"
        " text TEXT, sender TEXT, parts INT, credits INT, state TEXT, due_at TEXT)"
    )
    started = time.perf_counter()
    for call in range(CALLS):
        rows = [
            (str(uuid.uuid4()), call, f"336{i:08d}", "Bonjour", "36180", 1, 15, "queued", "now")
            for i in range(RECIPIENTS)
        ]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO m (sms_id, campaign_id, phone, text, sender, parts, credits, state,"
            " due_at) VALUES (?,?,?,?,?,?,?,?,?)",
            rows,
        )
        conn.execute("COMMIT")
    return CALLS * RECIPIENTS / (time.perf_counter() - started)


def main() -> dict[str, object]:
    with workdir() as cwd:
        env = base_env(cwd) | {"HIRONDELLE_WORKERS": "false"}
        key = create_account(env, cwd, "bench", credits=CALLS * RECIPIENTS * 15)
        with server(env, cwd) as srv:
            requests = [
                form_request(
                    srv.base_url,
                    "/http/9.0/sendSms",
                    {"login": "bench", "apiKey": key, "smsData": feed(call)},
                )
                for call in range(CALLS)
            ]
            result = asyncio.run(http_load(srv.base_url, requests, CLIENTS, keep_bodies=CALLS))
        statuses = {json.loads(body)["status"] for body in result.bodies}
        assert statuses == {100}, statuses
        reference = reference_inserts(cwd / "reference.db")
    return report(
        "B1 accept",
        {
            "recipients_per_s": round(result.requests * RECIPIENTS / result.seconds),
            "p50_ms": round(result.p50, 1),
            "p99_ms": round(result.percentile(99), 1),
            "calls": CALLS,
            "clients": CLIENTS,
            "reference_bare_sqlite_rows_per_s": round(reference),
            "target": ">= 50000 recipients/s, p50 < 100 ms",
        },
    )


if __name__ == "__main__":
    main()
