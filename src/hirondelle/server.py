"""`hirondelle serve`: run the application and its workers on one asyncio event loop."""

from __future__ import annotations

import asyncio
import errno
import gc
import os
import signal
import socket
import sys
from urllib.parse import quote

import structlog
import uvicorn
import uvloop

from hirondelle import logs
from hirondelle.app import create_app
from hirondelle.config import Settings
from hirondelle.context import Context, open_context
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
    """The HTTP port cannot be listened on; the message says what to do."""


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything else starts: a port in use must stop
    `serve` before its workers take back the claims of another process (workers.Workers)."""
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
            advice = "free the port or choose another with --port (0 picks a free one)"
        else:
            advice = "choose an address of this machine with --host"
        raise PortUnavailable(f"cannot listen on {host}:{port} ({reason}): {advice}") from None


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


async def serve(settings: Settings) -> None:
    sock = listen(settings.host, settings.port)
    try:
        ctx = open_context(settings)
    except BaseException:
        sock.close()
        raise
    try:
        demo = await ensure_demo_account(ctx)
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
        port = server.servers[0].sockets[0].getsockname()[1]
        scheme = "https" if settings.tls_cert and settings.tls_key else "http"
        base_url = settings.public_url.rstrip("/") or f"{scheme}://{settings.host}:{port}"
        print_welcome(base_url, demo)
        await task
    finally:
        ctx.close()
        sock.close()


def run_server(settings: Settings) -> None:
    """Run on uvloop with httptools: measured (bench/b2_small_sends.py) several times faster
    than the default asyncio loop with h11 for small requests."""
    logs.configure(settings.log_format)
    # A 2,000-recipient feed is tens of thousands of short-lived objects: with CPython's default
    # thresholds the collector ran every few hundred allocations and a full collection took
    # 50 ms in the middle of requests. Freeze what start-up made and collect less often.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve(settings))
