"""What every benchmark needs: a throwaway server, an account, a fast HTTP load generator.

The load generator is a few lines of asyncio over raw HTTP/1.1 keep-alive connections, so that
the client costs far less CPU than the server it measures (a Python HTTP client library would
be the bottleneck itself on a 2-core machine). Where the client's own CPU matters (B2: 0.045 ms
a request of the 0.5 ms the whole machine spends on a send), `wrk_load` drives wrk (C) instead.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

#: prctl(2): the signal a process gets when the thread that started it ends.
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """A child's `preexec_fn`: SIGTERM it when the benchmark that started it dies (Linux),
    however the benchmark ends — a SIGKILL or a crash too — so that no server, simulator or
    sink is left running (and holding its port and database) after an interrupted run."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def stop_on_sigterm() -> None:
    """A SIGTERM to the benchmark unwinds it like Ctrl-C (its servers stopped in turn by the
    `finally` blocks) instead of ending it at once."""
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(128 + signal.SIGTERM))


stop_on_sigterm()


@dataclass
class Server:
    process: subprocess.Popen[str]
    base_url: str
    workdir: Path
    env: dict[str, str]

    @property
    def pid(self) -> int:
        return self.process.pid


def stop(process: subprocess.Popen[str], signum: int, timeout: float) -> None:
    """Ask a child process to stop with `signum`; kill it if it has not within `timeout`."""
    process.send_signal(signum)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()


def machine() -> str:
    cpus = os.cpu_count()
    return f"{platform.machine()}, {cpus} cores, Python {platform.python_version()}"


def run_cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "hirondelle.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def create_account(server_env: dict[str, str], cwd: Path, login: str, credits: int) -> str:
    out = run_cli(server_env, cwd, "accounts", "create", login, "--credits", str(credits), "--json")
    return str(json.loads(out)["apiKey"])


def base_env(workdir: Path, database_url: str | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "HIRONDELLE_DATABASE_URL": database_url or f"sqlite:///{workdir}/hirondelle.db",
        "HIRONDELLE_VAR_DIR": str(workdir / "var"),
        "HIRONDELLE_DEMO_ACCOUNT": "false",
        "HIRONDELLE_LOG_FORMAT": "json",
    }


@contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="hirondelle-bench-") as name:
        yield Path(name)


def hirondelle(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    """`hirondelle ARGS` in a child process, its stdout read by the caller; its log (stderr)
    goes to a file of BENCH_LOG_DIR when that is set (to see why a run failed), else nowhere."""
    log_dir = os.environ.get("BENCH_LOG_DIR")
    log = subprocess.DEVNULL
    if log_dir:
        name = f"{args[0]}-{time.strftime('%H%M%S')}-{os.getpid()}.log"
        log = open(Path(log_dir) / name, "a")  # noqa: SIM115 (the child holds it)
    return subprocess.Popen(
        [sys.executable, "-m", "hirondelle.cli", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        preexec_fn=die_with_parent,
    )


@contextmanager
def server(env: dict[str, str], cwd: Path, *args: str, command: str = "serve") -> Iterator[Server]:
    """`hirondelle serve --port 0` (or `web`) in a child process, stopped with SIGTERM at the
    end."""
    process = hirondelle(env, cwd, command, "--port", "0", *args)
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    base_url = ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if "listening on" in line:
            base_url = line.rsplit(" ", 1)[-1].strip()
            break
    if not base_url:
        process.kill()
        raise RuntimeError("the server did not start")
    try:
        yield Server(process, base_url, cwd, env)
    finally:
        stop(process, signal.SIGTERM, 30)


@contextmanager
def worker(env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[str]]:
    """`hirondelle worker` in a child process, stopped with SIGTERM at the end."""
    process = hirondelle(env, cwd, "worker")
    assert process.stdout is not None
    if "started" not in process.stdout.readline():
        process.kill()
        raise RuntimeError("the worker did not start")
    try:
        yield process
    finally:
        stop(process, signal.SIGTERM, 30)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children alive now (`web --processes N`), from
    /proc/<pid>/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        pids.extend(int(child) for child in children)
    for one in pids:
        fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def postgres_cpu() -> dict[int, float]:
    """User + system CPU of each PostgreSQL server process alive now (its backends, WAL
    writer, checkpointer…), by pid: two readings give the server's CPU in between (a backend
    that exits in between is missed; the store's pool keeps its connections open)."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return found


def postgres_cpu_since(before: dict[int, float]) -> float:
    """PostgreSQL's CPU-seconds since the reading `before` (`postgres_cpu`)."""
    return sum(used - before.get(pid, 0.0) for pid, used in postgres_cpu().items())


@contextmanager
def simulator_process(receipt_delay: float = 0.0, *options: str) -> Iterator[int]:
    """`hirondelle smsc-sim --port 0` in its own process; yields its port."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hirondelle.cli",
            "smsc-sim",
            "--port",
            "0",
            "--receipt-delay",
            str(receipt_delay),
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=die_with_parent,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    try:
        yield int(line.rsplit(":", 1)[-1])
    finally:
        stop(process, signal.SIGINT, 10)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and of its children (the webhook sender's, for one)."""
    children = " ".join(
        path.read_text() for path in Path(f"/proc/{pid}/task").glob("*/children")
    ).split()
    return rss_mb(pid) + sum(tree_rss_mb(int(child)) for child in children)


# -- HTTP load -------------------------------------------------------------------------------


def form_request(url: str, path: str, fields: dict[str, str]) -> bytes:
    host = urlsplit(url).netloc
    body = urlencode(fields).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    return status, await reader.readexactly(length)


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies: list[float]
    bodies: list[bytes]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) * 1000


async def http_load(
    url: str,
    requests: list[bytes],
    connections: int,
    keep_bodies: int = 0,
    ok: tuple[int, ...] = (200,),
) -> LoadResult:
    """Send `requests` over `connections` keep-alive connections; all must answer `ok`."""
    parts = urlsplit(url)
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)
    latencies: list[float] = []
    bodies: list[bytes] = []

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            while True:
                try:
                    request = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                writer.write(request)
                status, body = await _read_response(reader)
                latencies.append(time.perf_counter() - started)
                if status not in ok:
                    raise RuntimeError(f"HTTP {status}: {body[:200]!r}")
                if len(bodies) < keep_bodies:
                    bodies.append(body)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return LoadResult(len(requests), time.perf_counter() - started, latencies, bodies)


@dataclass
class WrkResult:
    """What wrk measured: requests answered in `seconds`, latency percentiles in ms."""

    requests: int
    seconds: float
    p50: float
    p99: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


WRK_SCRIPT = Path(__file__).with_name("wrk_load.lua")


def wrk_load(
    url: str, path: str, connections: int, seconds: int, expect: str = ""
) -> WrkResult | None:
    """`GET path` over `connections` keep-alive connections for `seconds`, by wrk (two
    threads) rather than by Python: None when wrk is not installed (`apt-get install wrk`).
    "{n}" in `path` becomes a number of 8 digits of each request's own. Every answer must be
    a 200 whose body contains `expect`."""
    if shutil.which("wrk") is None:
        return None
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(WRK_SCRIPT), url]
    done = subprocess.run(
        [*command, "--", path, expect], capture_output=True, text=True, check=True
    )
    line = next(line for line in done.stdout.splitlines() if line.startswith("JSON "))
    figures = json.loads(line.removeprefix("JSON "))
    if figures["bad"] or figures["errors"]:
        raise RuntimeError(f"wrk: {figures['bad']} bad answers, {figures['errors']} errors")
    return WrkResult(figures["requests"], figures["seconds"], figures["p50_ms"], figures["p99_ms"])


def report(name: str, figures: dict[str, object]) -> dict[str, object]:
    """Print a benchmark's figures as one line of JSON (bench/run_all.py collects them)."""
    line = {"benchmark": name, **figures}
    print(json.dumps(line), flush=True)
    return line
