"""B10 hostile bodies: getInfo latency from another client while one client uploads 60 MB of
`a=&` to getInfo (declared Content-Length, then chunked), and while a 15 MB sendSms body (within
`max_feed_body_bytes`) is parsed; the server's peak resident memory (VmHWM).

Hardening issue: "while a 60 MB body is being sent, a getInfo from another client answers in
under 200 ms; RSS stays under 300 MB". Before the limits, that upload froze every request for
27 s and took the process to 869 MiB.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from harness import base_env, create_account, report, server, workdir

UPLOAD = 60 * 1024 * 1024
CHUNK = b"a=&" * 21845  # 64 KiB


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def upload(host: str, port: int, path: str, chunked: bool, prefix: bytes = b"") -> dict:
    """Send a 60 MB body; return how much went out before the answer, and the answer's status."""
    reader, writer = await asyncio.open_connection(host, port)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {UPLOAD}"
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\n{framing}\r\n\r\n".encode()
    )
    started, sent, status = time.perf_counter(), 0, 0

    async def send() -> None:
        nonlocal sent
        try:
            if prefix:
                writer.write(b"%x\r\n%s\r\n" % (len(prefix), prefix) if chunked else prefix)
                sent += len(prefix)
            while sent < UPLOAD:
                writer.write(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK) if chunked else CHUNK)
                sent += len(CHUNK)
                await writer.drain()
            if chunked:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except ConnectionError:
            pass

    sender = asyncio.create_task(send())
    try:
        line = await asyncio.wait_for(reader.readline(), 120)
        status = int(line.split()[1]) if line else 0
    except (TimeoutError, ConnectionError):
        status = 0
    answered_after = sent
    await sender
    writer.close()
    return {
        "status": status,
        "mb_sent_before_answer": round(answered_after / 2**20, 1),
        "seconds": round(time.perf_counter() - started, 2),
    }


def probe(url: str, stop: threading.Event, latencies: list[float]) -> None:
    """getInfo over a keep-alive connection every 20 ms until `stop`, from a thread of its
    own (blocking socket), so that the uploading client's loop does not delay it."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        stream = sock.makefile("rb")
        request = f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        while not stop.is_set():
            started = time.perf_counter()
            sock.sendall(request)
            length = 0
            while (line := stream.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            stream.read(length)
            latencies.append(time.perf_counter() - started)
            time.sleep(0.02)


def scenario(base_url: str, info_url: str, path: str, chunked: bool, prefix: bytes) -> dict:
    parts = urlsplit(base_url)
    stop, latencies = threading.Event(), []
    prober = threading.Thread(target=probe, args=(info_url, stop, latencies))
    prober.start()
    time.sleep(0.2)
    result = asyncio.run(upload(parts.hostname or "", parts.port or 0, path, chunked, prefix))
    time.sleep(0.5)  # what the server still does after answering
    stop.set()
    prober.join()
    return {**result, "getinfo_max_ms": round(max(latencies) * 1000, 1), "probes": len(latencies)}


def main() -> None:
    with workdir() as folder:
        env = base_env(folder)
        env["HIRONDELLE_WORKERS"] = "true"
        key = create_account(env, folder, "bench", 10**9)
        auth = urlencode({"login": "bench", "apiKey": key})
        with server(env, folder) as running:
            info_url = f"{running.base_url}/http/9.0/getInfo?{auth}"
            feed = b'smsData={"DATA":{"MESSAGE":"Hi","SMS":[{"MOBILEPHONE":"0611111111"}]}}&'
            figures = {}
            for name, path, chunked, prefix, size in [
                ("getinfo_declared", f"/http/9.0/getInfo?{auth}", False, b"", None),
                ("getinfo_chunked", f"/http/9.0/getInfo?{auth}", True, b"", None),
                ("sendsms_15mb", f"/http/9.0/sendSms?{auth}", True, feed, 15),
            ]:
                global UPLOAD
                UPLOAD = (size or 60) * 1024 * 1024
                figures[name] = scenario(running.base_url, info_url, path, chunked, prefix)
            figures["peak_rss_mb"] = round(peak_rss_mb(running.pid), 1)
    report("b10_hostile_bodies", figures)


if __name__ == "__main__":
    main()
