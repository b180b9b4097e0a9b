"""B2 small sends: the simplified send with one recipient, 64 concurrent connections.

Figures: requests per second and p99, with `hirondelle serve` on SQLite, then (when PostgreSQL
answers) with `hirondelle web --processes 2`. Reference, measured in the same run: `GET
/healthz` on the same server over the same 64 connections — what the HTTP stack alone allows.

Each is measured twice on the same server: by the harness's Python client (6,000 requests,
with the server's CPU per send), then by wrk for WRK_SECONDS (`wrk_*` figures; skipped when
wrk is not installed). On this 2-core machine the Python client takes about a tenth of the
CPU a send costs the whole machine, CPU the server does not get; wrk takes a fraction of it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from b3_end_to_end import postgres_url
from harness import (
    LoadResult,
    WrkResult,
    base_env,
    cpu_seconds,
    create_account,
    http_load,
    postgres_cpu,
    postgres_cpu_since,
    report,
    run_cli,
    server,
    workdir,
    wrk_load,
)

REQUESTS = 6_000
CONNECTIONS = 64
WRK_SECONDS = 6


def get_request(url: str, path: str) -> bytes:
    host = urlsplit(url).netloc
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


@dataclass
class SmallSends:
    """The figures of one server: by the Python client, then by wrk (None without wrk)."""

    sends: LoadResult
    reference: LoadResult
    #: CPU milliseconds per send (Python client's run): the server's, PostgreSQL's
    cpu: dict[str, float]
    wrk_sends: WrkResult | None
    wrk_reference: WrkResult | None


def small_sends(database_url: str | None, *args: str, command: str = "serve") -> SmallSends:
    """B2's figures against one server; the CPU of the server's processes, and of
    PostgreSQL's when it is the store."""
    with workdir() as cwd:
        env = base_env(cwd, database_url) | {"HIRONDELLE_WORKERS": "false"}
        if database_url:
            run_cli(env, cwd, "db", "upgrade")
        login = f"bench{int(time.time())}"  # a PostgreSQL database may hold earlier runs
        key = create_account(env, cwd, login, credits=10**9)
        path = "/http/9.0/?" + urlencode(
            {"login": login, "apiKey": key, "message": "Votre code est 123456"}
        )
        with server(env, cwd, *args, command=command) as srv:
            sends = [
                get_request(srv.base_url, f"{path}&mobile=06{10_000_000 + i:08d}")
                for i in range(REQUESTS)
            ]
            health = [get_request(srv.base_url, "/healthz")] * REQUESTS
            reference = asyncio.run(http_load(srv.base_url, health, CONNECTIONS))
            server_before, store_before = cpu_seconds(srv.pid), postgres_cpu()
            result = asyncio.run(http_load(srv.base_url, sends, CONNECTIONS, keep_bodies=5))
            cpu = {"server": cpu_seconds(srv.pid) - server_before}
            if database_url:
                cpu["postgresql"] = postgres_cpu_since(store_before)
            assert all(b'"status":100' in body for body in result.bodies), result.bodies[:1]
            wrk_reference = wrk_load(srv.base_url, "/healthz", CONNECTIONS, WRK_SECONDS)
            wrk_sends = wrk_load(
                srv.base_url, f"{path}&mobile=06{{n}}", CONNECTIONS, WRK_SECONDS, '"status":100'
            )
    per_send = {part: used * 1000 / REQUESTS for part, used in cpu.items()}
    return SmallSends(result, reference, per_send, wrk_sends, wrk_reference)


def figures_of(run: SmallSends, prefix: str = "") -> dict[str, object]:
    """The figures of one server, named with `prefix` (none for `serve` on SQLite)."""
    sends, reference = run.sends, run.reference
    figures: dict[str, object] = {
        f"{prefix}requests_per_s": round(sends.per_second),
        f"{prefix}p50_ms": round(sends.p50, 1),
        f"{prefix}p99_ms": round(sends.percentile(99), 1),
        f"{prefix}reference_healthz_requests_per_s": round(reference.per_second),
    }
    figures |= {f"{prefix}cpu_ms_per_send_{part}": round(ms, 3) for part, ms in run.cpu.items()}
    if run.wrk_sends is None or run.wrk_reference is None:
        figures[f"{prefix}wrk"] = "skipped: wrk is not installed (apt-get install wrk)"
        return figures
    return figures | {
        f"{prefix}wrk_requests_per_s": round(run.wrk_sends.per_second),
        f"{prefix}wrk_sends": run.wrk_sends.requests,
        f"{prefix}wrk_p50_ms": round(run.wrk_sends.p50, 1),
        f"{prefix}wrk_p99_ms": round(run.wrk_sends.p99, 1),
        f"{prefix}wrk_reference_healthz_requests_per_s": round(run.wrk_reference.per_second),
    }


def main() -> dict[str, object]:
    figures = figures_of(small_sends(None)) | {
        "connections": CONNECTIONS,
        "target": ">= 3000 requests/s",
    }
    pg = postgres_url()
    if pg is None:
        figures["web_processes_2"] = "skipped: no PostgreSQL server answered"
    else:
        run = small_sends(pg, "--processes", "2", command="web")
        figures |= figures_of(run, "web_processes_2_postgresql_")
        figures["web_processes_2_target"] = ">= 3500 requests/s"
    return report("B2 small sends", figures)


if __name__ == "__main__":
    main()
