"""B2 small sends: the simplified send with one recipient, 64 concurrent connections.

Figures: requests per second and p99. Reference, measured in the same run: `GET /healthz` on
the same server over the same 64 connections — what the HTTP stack alone allows.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode, urlsplit

from harness import base_env, create_account, http_load, report, server, workdir

REQUESTS = 6_000
CONNECTIONS = 64


def get_request(url: str, path: str) -> bytes:
    host = urlsplit(url).netloc
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


def main() -> dict[str, object]:
    with workdir() as cwd:
        env = base_env(cwd) | {"HIRONDELLE_WORKERS": "false"}
        key = create_account(env, cwd, "bench", credits=REQUESTS * 15 * 2)
        with server(env, cwd) as srv:
            sends = [
                get_request(
                    srv.base_url,
                    "/http/9.0/?"
                    + urlencode(
                        {
                            "login": "bench",
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
            result = asyncio.run(http_load(srv.base_url, sends, CONNECTIONS, keep_bodies=5))
        assert all(b'"status":100' in body for body in result.bodies), result.bodies[:1]
    return report(
        "B2 small sends",
        {
            "requests_per_s": round(result.per_second),
            "p50_ms": round(result.p50, 1),
            "p99_ms": round(result.percentile(99), 1),
            "connections": CONNECTIONS,
            "reference_healthz_requests_per_s": round(reference.per_second),
            "target": ">= 3000 requests/s",
        },
    )


if __name__ == "__main__":
    main()
