"""A real HTTP/1.1 server for webhook tests: records every call (GET, or a batch POST), answers
a status the test chooses (per path if it likes), keeps connections alive and counts them."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

#: Receipts a little after the submit is stored (a receipt racing its submit_sm_resp on
#: PostgreSQL can wait in pending_receipts: a delivery-path issue, reported, not tested here).
RECEIPT_DELAY = {"simulator_receipt_delay": 0.2}


@dataclass(frozen=True)
class Hit:
    target: str  # path and query, as received
    headers: dict[str, str]
    answered: int
    method: str = "GET"
    body: bytes = b""

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def params(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.target).query, keep_blank_values=True))

    @property
    def event_id(self) -> str:
        return self.headers["x-hirondelle-event-id"]

    def signed_with(self, secret: str) -> bool:
        signed = self.target + ("\n" + self.body.decode() if self.method == "POST" else "")
        expected = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers.get("x-hirondelle-signature", ""))


class Server(ThreadingHTTPServer):
    request_queue_size = 256  # many keep-alive connections open at once


class Receiver:
    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.status = 200
        self.statuses: dict[str, int] = {}  # path -> status, before `status`
        self.connections = 0
        self.held_host = ""  # calls to this Host wait for `released`
        self.released = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive

            def setup(self) -> None:
                super().setup()
                with receiver.lock:
                    receiver.connections += 1

            def do_GET(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status = receiver.statuses.get(urlsplit(self.path).path, receiver.status)
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver.lock:
                    receiver.hits.append(Hit(self.path, headers, status, self.command, body))
                if receiver.held_host and headers["host"].startswith(receiver.held_host):
                    receiver.released.wait(30)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *_args: object) -> None:
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def answered(self, status: int = 200, path: str | None = None) -> list[Hit]:
        with self.lock:
            return [
                hit
                for hit in self.hits
                if hit.answered == status and (path is None or hit.path == path)
            ]


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
