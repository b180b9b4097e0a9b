"""A webhook sink for B9, in its own process: counts what Hirondelle and Kannel push to it.

`python bench/webhook_sink.py` prints `port N` and serves HTTP/1.1 with keep-alive on 127.0.0.1.
Every request is answered 200 at once (or 500 for a path starting with `/fail`) and counted:

- Hirondelle receipts: GET with `status=` in the query (final: 1, 2, 4, 5), or a JSON POST of
  events; the event id (`X-Hirondelle-Event-Id`) tells duplicates;
- Kannel receipts (path `/kannel`): `type=` in the query (dlr-url `%d`; final: 1 or 2).

`GET /_stats` answers the counts as JSON, with the time (`time.time()`) of the last final receipt.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from urllib.parse import parse_qsl, urlsplit

FINAL = {"1", "2", "4", "5"}
KANNEL_FINAL = {"1", "2"}


class Sink:
    def __init__(self) -> None:
        self.calls = 0
        self.connections = 0
        self.finals = 0
        self.events: Counter[str] = Counter()  # event id -> times received
        self.kannel_finals = 0
        self.last_final = 0.0
        self.failed = 0

    def stats(self) -> dict[str, object]:
        return {
            "calls": self.calls,
            "connections": self.connections,
            "finals": self.finals,
            "events": len(self.events),
            "duplicates": sum(n - 1 for n in self.events.values()),
            "kannel_finals": self.kannel_finals,
            "failed": self.failed,
            "last_final": self.last_final,
        }

    def count(self, target: str, headers: dict[str, str], body: bytes) -> int:
        parts = urlsplit(target)
        if parts.path.startswith("/fail"):
            self.failed += 1
            return 500
        self.calls += 1
        params = dict(parse_qsl(parts.query))
        finals = 0
        if parts.path == "/kannel":
            finals = params.get("type") in KANNEL_FINAL
            self.kannel_finals += finals
        elif body:
            for event in json.loads(body)["events"]:
                finals += self._event(str(event["eventId"]), str(event.get("status", "")))
        else:
            ids = headers.get("x-hirondelle-event-id", "")
            finals = self._event(ids, params.get("status", ""))
        if finals:
            self.last_final = time.time()
        return 200

    def _event(self, event_id: str, status: str) -> int:
        self.events[event_id] += 1
        if status in FINAL and self.events[event_id] == 1:
            self.finals += 1
            return 1
        return 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                target = lines[0].split(" ")[1]
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                body = await reader.readexactly(length) if length else b""
                if target == "/_stats":
                    answer = json.dumps(self.stats()).encode()
                    status = 200
                else:
                    answer, status = b"", self.count(target, headers, body)
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Length: {len(answer)}\r\n\r\n".encode()
                    + answer
                )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def main() -> None:
    sink = Sink()
    server = await asyncio.start_server(sink.serve, "127.0.0.1", 0, backlog=1024)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main())
