"""B6 customer area: the dashboard, the campaign list and a campaign's page with 1,000,000
messages stored — p50 and p99 of each page over real HTTP, signed in with a real session.

The million messages are bulk-loaded straight into the store (driver-level executemany on
SQLite, COPY on PostgreSQL): one campaign of 400,000 and 600 of 1,000, spread over the last 30
days, 90 % delivered, 5 % not delivered, 5 % still transmitted; with the counts per campaign and
hour (`traffic_counts`) the sending and receipt transactions would have kept. The benchmark is
about reading them, not writing them (B1 and B3 measure that). Target: p99 < 100 ms per page.

SQLite always; PostgreSQL too when it answers (HIRONDELLE_BENCH_POSTGRES_URL, else a database
`hirondelle_bench_b6` created on 127.0.0.1:5432).
"""

from __future__ import annotations

import asyncio
import http.client
import os
import re
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

import sqlalchemy as sa
from b3_end_to_end import postgres_url
from harness import base_env, http_load, report, run_cli, server, workdir

from hirondelle.store import traffic
from hirondelle.store.engine import create_engine
from hirondelle.store.migrate import upgrade
from hirondelle.store.schema import campaigns

LOGIN, PASSWORD = "bench", "bench-password-6"
BIG = int(os.environ.get("BENCH_B6_BIG", "400000"))
SMALL_CAMPAIGNS = int(os.environ.get("BENCH_B6_CAMPAIGNS", "600"))
PER_SMALL = 1000
REQUESTS = int(os.environ.get("BENCH_B6_REQUESTS", "400"))
#: One signed-in user clicking: the page latency itself (BENCH_B6_CONNECTIONS for more at once).
CONNECTIONS = int(os.environ.get("BENCH_B6_CONNECTIONS", "1"))
COLUMNS = (
    "sms_id, campaign_id, account_id, phone, country, text, sender, parts, credits, status,"
    " state, connector, due_at, expires_at, status_at, created_at"
)


def _status(i: int) -> tuple[int, str]:
    if i % 20 == 0:
        return 2, "final"
    if i % 20 == 1:
        return 3, "submitted"
    return 1, "final"


def _rows(campaign_id: int, size: int, at: datetime, start: int) -> list[tuple[object, ...]]:
    rows = []
    for i in range(size):
        status, state = _status(i)
        rows.append(
            (str(uuid.uuid4()), campaign_id, 1, f"336{(start + i) % 10**8:08d}", "FR", "Hello",
             "36180", 1, 15, status, state, "smsc", at, at, at, at)
        )  # fmt: skip
    return rows


def _copy(conn: sa.Connection, rows: list[tuple[object, ...]]) -> None:
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY messages ({COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join("?" * len(COLUMNS.split(",")))
        conn.exec_driver_sql(f"INSERT INTO messages ({COLUMNS}) VALUES ({marks})", rows)


def fill(url: str) -> str:
    """Store the campaigns, their messages and their counts; return the big campaign's id."""
    engine = create_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    sizes = [BIG] + [PER_SMALL] * SMALL_CAMPAIGNS
    big_id = ""
    start = 0
    for number, size in enumerate(sizes):
        at = now - timedelta(hours=(len(sizes) - number) * 30 * 24 // len(sizes))
        public_id = str(uuid.uuid4())
        big_id = big_id or public_id
        with engine.begin() as conn:
            campaign_id = conn.execute(
                sa.insert(campaigns)
                .values(
                    public_id=public_id, account_id=1, name=f"Campaign {number}",
                    message="Hello", sender="36180", state="queued", due_at=at,
                    nb_contacts=size, nb_sms=size, credits=size * 15, created_at=at,
                )
                .returning(campaigns.c.id)
            ).scalar_one()  # fmt: skip
            for chunk in range(0, size, 50_000):
                part = min(50_000, size - chunk)
                _copy(conn, _rows(campaign_id, part, at, start + chunk))
            start += size
            statuses = [_status(i)[0] for i in range(size)]
            traffic.add(conn, 1, campaign_id, at, accepted=size, submitted=size,
                        credits=size * 15)  # fmt: skip
            traffic.add(conn, 1, campaign_id, at + timedelta(minutes=1),
                        delivered=statuses.count(1), not_delivered=statuses.count(2))  # fmt: skip
    engine.dispose()
    return big_id


def sign_in(base_url: str) -> str:
    """A signed-in session cookie, through the sign-in form (its CSRF token and cookie)."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port)
    conn.request("GET", "/account/")
    form = conn.getresponse()
    html = form.read().decode()
    nonce = re.search(r"hir_signin=([^;]+)", form.getheader("set-cookie") or "")
    token = re.search(r'name="csrf" value="([^"]+)"', html)
    assert nonce and token, "no sign-in form"
    body = urlencode({"login": LOGIN, "password": PASSWORD, "csrf": token.group(1)})
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"hir_signin={nonce.group(1)}",
    }
    conn.request("POST", "/account/", body, headers)
    answer = conn.getresponse()
    answer.read()
    session = re.search(r"hir_session=([^;]+)", answer.getheader("set-cookie") or "")
    assert answer.status == 303 and session, answer.status
    conn.close()
    return session.group(1)


def page_request(base_url: str, path: str, session: str) -> bytes:
    host = urlsplit(base_url).netloc
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nCookie: hir_session={session}\r\n\r\n"
    ).encode()


def measure(database_url: str, label: str) -> dict[str, object]:
    with workdir() as cwd:
        env = base_env(cwd, database_url)
        run_cli(env, cwd, "accounts", "create", LOGIN, "--password", PASSWORD, "--credits", "1000")
        big = fill(env["HIRONDELLE_DATABASE_URL"])
        figures: dict[str, object] = {
            "database": label,
            "messages": BIG + PER_SMALL * SMALL_CAMPAIGNS,
        }
        with server(env, cwd) as srv:
            session = sign_in(srv.base_url)
            pages = {
                "dashboard": "/account/",
                "campaign_list": "/account/campaigns",
                "campaign_page_400k": f"/account/campaigns/{big}",
            }
            for name, path in pages.items():
                requests = [page_request(srv.base_url, path, session)] * REQUESTS
                asyncio.run(http_load(srv.base_url, requests[:20], CONNECTIONS))  # warm up
                result = asyncio.run(http_load(srv.base_url, requests, CONNECTIONS))
                figures[f"{name}_p50_ms"] = round(result.p50, 1)
                figures[f"{name}_p99_ms"] = round(result.percentile(99), 1)
        figures["target"] = "p99 < 100 ms"
        return report("B6 customer area", figures)


def main() -> list[dict[str, object]]:
    with workdir() as cwd:
        results = [measure(f"sqlite:///{cwd}/b6.db", "sqlite")]
    url = postgres_url("hirondelle_bench_b6")
    if url:
        results.append(measure(url, "postgresql"))
    return results


if __name__ == "__main__":
    main()
