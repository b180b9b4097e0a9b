"""B2 small sends: the simplified send with one recipient, 64 concurrent connections.

Figures: requests per second and p99, with `hirondelle serve` on SQLite, then (when PostgreSQL
answers) with `hirondelle web --processes 2`. Reference, measured in the same run: `GET
/healthz` on the same server over the same 64 connections — what the HTTP stack alone allows.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlencode, urlsplit

from b3_end_to_end import postgres_url
from harness import (
    LoadResult,
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
)

REQUESTS = 6_000
CONNECTIONS = 64


def get_request(url: str, path: str) -> bytes:
    host = urlsplit(url).netloc
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


def small_sends(
    database_url: str | None, *args: str, command: str = "serve"
) -> tuple[LoadResult, LoadResult, dict[str, float]]:
    """(the sends, the /healthz reference, CPU milliseconds per send) against one server: of
    the server's processes, and of PostgreSQL's when it is the store."""
    with workdir() as cwd:
        env = base_env(cwd, database_url) | {"HIRONDELLE_WORKERS": "false"}
        if database_url:
            run_cli(env, cwd, "db", "upgrade")
        login = f"bench{int(time.time())}"  # a PostgreSQL database may hold earlier runs
        key = create_account(env, cwd, login, credits=REQUESTS * 15 * 2)
        with server(env, cwd, *args, command=command) as srv:
            sends = [
                get_request(
                    srv.base_url,
                    "/http/9.0/?"
                    + urlencode(
                        {
                            "login": login,
                            "apiKey": key,
                            "mobile": f"06{10_000_000 + i:08d}",
                            "message": "Votre code est 123456",
                        }
                    ),
                )
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
    return result, reference, {part: used * 1000 / REQUESTS for part, used in cpu.items()}


def main() -> dict[str, object]:
    result, reference, cpu = small_sends(None)
    figures: dict[str, object] = {
        "requests_per_s": round(result.per_second),
        "p50_ms": round(result.p50, 1),
        "p99_ms": round(result.percentile(99), 1),
        "connections": CONNECTIONS,
        "reference_healthz_requests_per_s": round(reference.per_second),
        "serve_cpu_ms_per_send": round(cpu["server"], 3),
        "target": ">= 3000 requests/s",
    }
    pg = postgres_url()
    if pg is None:
        figures["web_processes_2"] = "skipped: no PostgreSQL server answered"
    else:
        result, reference, cpu = small_sends(pg, "--processes", "2", command="web")
        figures["web_processes_2_postgresql_requests_per_s"] = round(result.per_second)
        figures["web_processes_2_postgresql_p99_ms"] = round(result.percentile(99), 1)
        figures["web_processes_2_reference_healthz_per_s"] = round(reference.per_second)
        figures["web_processes_2_web_cpu_ms_per_send"] = round(cpu["server"], 3)
        figures["web_processes_2_postgresql_cpu_ms_per_send"] = round(cpu["postgresql"], 3)
        figures["web_processes_2_target"] = ">= 3500 requests/s"
    return report("B2 small sends", figures)


if __name__ == "__main__":
    main()
