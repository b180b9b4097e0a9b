"""Wiring: build the ASGI application from a Context. No logic lives here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from hirondelle.api import rest, v9
from hirondelle.bodylimit import BodyLimit
from hirondelle.context import Context
from hirondelle.forwarded import TrustedProxies
from hirondelle.headers import SafetyHeadersMiddleware
from hirondelle.logs import AccessLogMiddleware
from hirondelle.web import apidocs, console, control
from hirondelle.web.links import follow_short_link
from hirondelle.web.passwords import set_password_page
from hirondelle.web.routes import (
    account,
    admin,
    api_settings,
    campaigns,
    forgot,
    front,
    inbox,
    lists,
    send,
    statement,
    subaccounts,
)
from hirondelle.web.slashes import SlashRedirect
from hirondelle.workers import Workers


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """200 when the store answers and, once the start-up grace is over, a connector is bound."""
    ctx: Context = request.app.state.ctx
    workers: Workers | None = getattr(request.app.state, "workers", None)
    if not await asyncio.to_thread(ctx.store.ping):
        reason = "the store does not answer"
    elif workers is not None and not workers.connectors_ready():
        reason = "no SMPP connector is bound"
    else:
        return JSONResponse({"status": "ok"})
    return JSONResponse({"status": "unavailable", "reason": reason}, 503)


def create_app(ctx: Context) -> Starlette:
    """The HTTP application over an opened Context (the caller owns and closes it)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        workers = Workers(ctx) if ctx.settings.workers else None
        app.state.workers = workers
        if workers is not None:
            await workers.start()
        try:
            yield
        finally:
            if workers is not None:
                await workers.stop()

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", control.metrics),
            Route("/_sim/mo", control.inject_mo, methods=["POST"]),
            *v9.routes(),
            Route("/s/{code}", follow_short_link, methods=["GET", "HEAD"]),
            Route("/account/set-password", set_password_page, methods=["GET", "POST"]),
            *apidocs.routes(),
            Route("/", front.front_door, methods=["GET", "HEAD"]),
            Route("/lang", front.set_language, methods=["GET"]),
            Route("/account/", account.account_page, methods=["GET", "HEAD", "POST"]),
            Route("/account/sign-out", account.sign_out, methods=["POST"]),
            # Replies, blacklist, contact lists, statement, API settings, sub-accounts.
            Route("/account/replies", inbox.replies_page, methods=["GET", "HEAD"]),
            Route("/account/blacklist", inbox.blacklist_page, methods=["GET", "HEAD", "POST"]),
            Route("/account/blacklist/import", inbox.blacklist_import, methods=["POST"]),
            Route("/account/blacklist.csv", inbox.blacklist_csv, methods=["GET"]),
            Route("/account/lists", lists.lists_page, methods=["GET", "HEAD", "POST"]),
            Route("/account/lists/{name:path}", lists.list_page, methods=["GET", "HEAD", "POST"]),
            Route("/account/statement", statement.statement_page, methods=["GET", "HEAD"]),
            Route("/account/statement.csv", statement.statement_csv, methods=["GET"]),
            Route("/account/api", api_settings.api_page, methods=["GET", "HEAD"]),
            Route("/account/api/rotate", api_settings.rotate_key, methods=["POST"]),
            Route("/account/api/webhooks", api_settings.save_webhooks, methods=["POST"]),
            Route("/account/api/test", api_settings.test_event, methods=["POST"]),
            Route("/account/api/allowed-ips", api_settings.save_allowed_ips, methods=["POST"]),
            Route(
                "/account/sub-accounts",
                subaccounts.subaccounts_page,
                methods=["GET", "HEAD", "POST"],
            ),
            Route(
                "/account/sub-accounts/{login}",
                subaccounts.subaccount_page,
                methods=["GET", "HEAD", "POST"],
            ),
            # API console, operators' area, forgotten password (issue #16)
            Route("/account/console", console.console_page, methods=["GET", "HEAD", "POST"]),
            Route("/account/forgot-password", forgot.forgot_password, methods=["GET", "POST"]),
            *admin.routes(),
            # Send, campaigns.
            Route("/account/send", send.send_page, methods=["GET", "HEAD", "POST"]),
            Route("/account/send/confirm", send.confirm_send, methods=["POST"]),
            Route("/account/campaigns", campaigns.campaign_list, methods=["GET", "HEAD"]),
            Route("/account/campaigns/{campaign_id}.csv", campaigns.campaign_csv),
            Route("/account/campaigns/{campaign_id}", campaigns.campaign_page),
            Route("/account/campaigns/{campaign_id}/counts", campaigns.campaign_page),
            Route(
                "/account/campaigns/{campaign_id}/cancel",
                campaigns.cancel_campaign,
                methods=["POST"],
            ),
            Mount("/static", StaticFiles(packages=[("hirondelle.web", "static")]), name="static"),
        ],
        middleware=[
            Middleware(TrustedProxies, settings=ctx.settings),  # first: the logs see the client
            Middleware(AccessLogMiddleware),
            Middleware(SafetyHeadersMiddleware),
            Middleware(BodyLimit, settings=ctx.settings),
        ],
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    # The REST API takes what no route above does (after a trailing-slash redirect, if any).
    rest_app = rest.create_app(ctx)
    app.router.default = SlashRedirect(
        app.router, rest_app, ctx.settings.base_url, rest_app.router.routes
    )
    return app
