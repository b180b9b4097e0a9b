"""`hirondelle serve`: run the application and its workers on one asyncio event loop."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from types import FrameType
from urllib.parse import quote

import structlog
import uvicorn

from hirondelle import logs
from hirondelle.app import create_app
from hirondelle.config import Settings
from hirondelle.context import Context, open_context
from hirondelle.eventloop import run_loop
from hirondelle.httpguard import guarded_protocol
from hirondelle.services import accounts

log = structlog.get_logger(__name__)

DEMO_LOGIN = "demo"


async def ensure_demo_account(ctx: Context) -> accounts.NewAccount | None:
    """Create the demo account when the store has no account at all."""
    from hirondelle.store.accounts import count_accounts

    if not ctx.settings.demo_account or await ctx.store.read(count_accounts) > 0:
        return None
    return await accounts.create_account(
        ctx, DEMO_LOGIN, credits=ctx.settings.demo_credits, first_name="Demo", society="Hirondelle"
    )


def print_welcome(base_url: str, demo: accounts.NewAccount | None) -> None:
    out = sys.stdout
    out.write(f"\nHirondelle is listening on {base_url}\n")
    out.write(f"The customer area: {base_url}/account/ (docs/customer-area.md)\n")
    if demo is not None:
        login, key = demo.account.login, demo.api_key
        out.write(
            f"\nA demo account was created: login {login!r}, "
            f"{demo.account.balance} credits.\n"
            f"Its API key (shown only now): {key}\n\n"
            "Try it:\n"
            f"  curl '{base_url}/http/9.0/getInfo?login={quote(login)}&apiKey={quote(key)}'\n"
        )
    out.flush()


class PortUnavailable(Exception):
    """A port cannot be listened on (HTTP, or the SMPP server's); the message says what to do."""


def listen(
    host: str, port: int, option: str = "--port", host_option: str = "--host"
) -> socket.socket:
    """The listening socket, bound before anything else starts: a port in use must stop
    `serve` before its workers take back the claims of another process (workers.Workers).
    `option` and `host_option` name what to change in the message of a refusal."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        code = exc.errno or 0  # create_server's own message repeats the address: not used
        if code > 0:
            reason = os.strerror(code).lower()
        else:  # a resolver error (negative EAI_* code) or none at all
            reason = "the name does not resolve" if code < 0 else str(exc)
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            advice = f"free the port or choose another with {option} (0 picks a free one)"
        else:
            advice = f"choose an address of this machine with {host_option}"
        raise PortUnavailable(f"cannot listen on {host}:{port} ({reason}): {advice}") from None


def check_smpp_server(settings: Settings) -> None:
    """The SMPP server's ports tried (and its TLS certificate asked for) before anything starts,
    as the HTTP port is: a port in use is one line, not a failed start of the workers."""
    ports = (
        ("smpp_server_port", settings.smpp_server_port),
        ("smpp_server_tls_port", settings.smpp_server_tls_port),
    )
    for name, port in ports:
        if port:  # None: off; 0: a free port, always there
            listen(settings.smpp_server_host, port, name, "smpp_server_host").close()
    if settings.smpp_server_tls_port is not None and not (settings.tls_cert and settings.tls_key):
        raise PortUnavailable("smpp_server_tls_port needs tls_cert and tls_key (the certificate)")


def uvicorn_config(ctx: Context) -> uvicorn.Config:
    """How uvicorn serves the application (the tests serve it the same way)."""
    settings = ctx.settings
    return uvicorn.Config(
        create_app(ctx),
        host=settings.host,
        port=settings.port,
        ssl_certfile=settings.tls_cert or None,
        ssl_keyfile=settings.tls_key or None,
        log_config=None,
        access_log=False,
        proxy_headers=False,  # X-Forwarded-For is read by forwarded.py (trusted_proxies)
        lifespan="on",
        http=guarded_protocol(settings),  # httptools, with header and read-time limits
    )


async def serve(settings: Settings, sock: socket.socket | None = None) -> None:
    """Serve HTTP (and, when `settings.workers`, the worker role) until SIGTERM or SIGINT.

    `sock`: a listening socket shared with other processes (`hirondelle web --processes N`,
    whose parent has already created the demo account and printed the welcome text).
    """
    shared = sock is not None
    if sock is None:
        if settings.workers:
            check_smpp_server(settings)
        sock = listen(settings.host, settings.port)
    try:
        ctx = open_context(settings)
    except BaseException:
        sock.close()
        raise
    try:
        demo = None if shared else await ensure_demo_account(ctx)
        server = uvicorn.Server(uvicorn_config(ctx))  # SIGINT and SIGTERM: a clean shutdown
        # ...then re-raises the signal. SIGTERM's default action would kill the process before
        # ctx.close() below, with status -15: the shutdown is complete, so let that one go.
        signal.signal(signal.SIGTERM, lambda _sig, _frame: None)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                await task
                return
            await asyncio.sleep(0.01)
        if not shared:
            print_welcome(base_url_of(settings, sock), demo)
        await task
    finally:
        ctx.close()
        sock.close()


def base_url_of(settings: Settings, sock: socket.socket) -> str:
    port = sock.getsockname()[1]
    scheme = "https" if settings.tls_cert and settings.tls_key else "http"
    return settings.public_url.rstrip("/") or f"{scheme}://{settings.host}:{port}"


def run_server(settings: Settings) -> None:
    """`hirondelle serve`, and `hirondelle web` (with `settings.workers` off)."""
    logs.configure(settings.log_format)
    run_loop(serve(settings))


def run_web_processes(settings: Settings, processes: int) -> None:
    """`hirondelle web --processes N`: N processes accepting on one listening socket, under a
    parent that supervises them (`Supervisor`)."""
    logs.configure(settings.log_format)
    sock = listen(settings.host, settings.port)
    try:
        # Migrations and the demo account once, here: not raced by N processes.
        ctx = open_context(settings)
        try:
            demo = asyncio.run(ensure_demo_account(ctx))
        finally:
            ctx.close()
    except BaseException:
        sock.close()
        raise
    supervisor = Supervisor(processes, lambda: run_loop(serve(settings, sock)))
    supervisor.start()
    print_welcome(base_url_of(settings, sock), demo)
    sys.stdout.write(f"{processes} web processes: {', '.join(map(str, supervisor.pids))}\n")
    sys.stdout.flush()
    code = supervisor.wait()
    sock.close()
    if code:
        raise SystemExit(code)


async def work(settings: Settings) -> None:
    """`hirondelle worker`: the worker role alone, until SIGTERM or SIGINT."""
    from hirondelle.workers import Workers

    check_smpp_server(settings)
    ctx = open_context(settings)
    try:
        workers = Workers(ctx)
        await workers.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        sys.stdout.write(f"Hirondelle worker {os.getpid()} started\n")
        sys.stdout.flush()
        try:
            await stop.wait()
        finally:
            await workers.stop()
    finally:
        ctx.close()


def run_worker(settings: Settings) -> None:
    logs.configure(settings.log_format)
    run_loop(work(settings))


# -- `hirondelle web --processes N` -----------------------------------------------------------

#: Seconds a process must live for its death to be restarted rather than fatal.
EARLY_DEATH = 5.0
RESTART_DELAY = 1.0


class Supervisor:
    """N forked processes accepting on one listening socket.

    The parent binds the socket (so a port in use fails at once, with one readable line), forks the
    N processes, which all accept on it (the kernel hands each connection to one of them), then only
    supervises: SIGTERM or SIGINT is forwarded to every process as SIGTERM (each finishes its
    requests and exits), and a process that dies is started again after a second. A process that
    exits with an error within its first seconds has a configuration or store problem, not bad
    luck: then the parent stops the others and exits with an error instead of restarting in a
    loop (one killed by a signal is started again).
    """

    def __init__(self, count: int, target: Callable[[], None]) -> None:
        self.count = count
        self.target = target
        self.started: dict[int, float] = {}  # pid -> monotonic start time
        self.stopping = False

    @property
    def pids(self) -> list[int]:
        return sorted(self.started)

    def start(self) -> None:
        for _ in range(self.count):
            self._spawn()

    def _spawn(self) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns into the parent's code
            code = 0
            try:
                for signum in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(signum, signal.SIG_DFL)
                self.target()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self.started[pid] = time.monotonic()

    def _forward(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping = True
        for pid in self.started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def wait(self) -> int:
        """Supervise until every process has ended after a signal; the exit code to use."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._forward)
        failed = 0
        while self.started:
            pid, status = os.wait()
            started = self.started.pop(pid, None)
            if started is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            if self.stopping:
                continue
            if time.monotonic() - started < EARLY_DEATH and code > 0:  # not killed: failed
                log.error("a web process failed at start: stopping", pid=pid, status=code)
                failed = 1
                self._forward(signal.SIGTERM, None)
                continue
            log.warning("a web process ended: starting another", pid=pid, status=code)
            time.sleep(RESTART_DELAY)
            if not self.stopping:
                self._spawn()
        return failed
