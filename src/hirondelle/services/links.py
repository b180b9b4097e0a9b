"""Short links: shortenUrl, the links of SHORTEN=1 messages, and following a link."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from sqlalchemy.engine import Connection

from hirondelle.context import Context
from hirondelle.domain import links as rules
from hirondelle.notify import netguard
from hirondelle.store import links as link_rows

#: HTTP answers that prove a URL exists even though HEAD got no 2xx/3xx.
_ALIVE_DESPITE_ERROR = frozenset({401, 403, 405})


class LinkRefused(ValueError):
    """A URL that shortenUrl refuses; the message is meant for the API client."""


@dataclass(frozen=True)
class ShortLink:
    code: str
    target: str
    short_url: str


async def shorten(ctx: Context, account_id: int, url: str) -> ShortLink:
    """Make a short link to `url` for the account (manual §28).

    Only http(s) targets are accepted. A target that is a loopback, private or link-local address
    (or `localhost`) is always refused; with `link_check` on, the host is resolved and every
    address checked before one HEAD request goes to a checked address (see notify.netguard).
    """
    settings = ctx.settings
    try:
        target = rules.check_target(url)
        host = urlsplit(target).hostname or ""
        netguard.check_host_statically(host, allow_private=settings.allow_private_addresses)
    except (rules.BadUrl, netguard.NetGuardError) as exc:
        raise LinkRefused(str(exc)) from exc
    if settings.link_check:
        await check_reachable(
            target,
            allow_private=settings.allow_private_addresses,
            timeout=settings.link_check_timeout,
        )
    now = datetime.now(UTC)
    code = await ctx.store.write(
        lambda conn: link_rows.insert_link(conn, rules.new_code, account_id, target, now)
    )
    return ShortLink(code, target, rules.short_url(settings.base_url, code))


async def check_reachable(url: str, *, allow_private: bool, timeout: float) -> None:
    """One guarded HEAD request to `url`, bounded by `timeout`; LinkRefused if it fails."""
    try:
        async with (
            asyncio.timeout(timeout),
            httpx.AsyncClient(timeout=timeout, trust_env=False) as client,
        ):
            response = await netguard.guarded_request(
                client, "HEAD", url, allow_private=allow_private, timeout=timeout
            )
    except netguard.NetGuardError as exc:
        raise LinkRefused(str(exc)) from exc
    except (httpx.HTTPError, OSError, TimeoutError) as exc:
        raise LinkRefused(f"The URL is not reachable ({type(exc).__name__})") from exc
    status = response.status_code
    if status >= 400 and status not in _ALIVE_DESPITE_ERROR:
        raise LinkRefused(f"The URL is not reachable (HTTP {status})")


def shorten_message_urls(
    conn: Connection,
    account_id: int,
    campaign_public_id: str,
    text: str,
    recipient_phone: str,
    base_url: str,
) -> str:
    """`text` with each http(s) URL replaced by a short link of its own for this recipient.

    Runs inside the caller's write transaction (`conn`), without any network check: the links
    count clicks per recipient of the campaign. A URL repeated in the text gets one link.
    """
    now = datetime.now(UTC)
    codes: dict[str, str] = {}

    def replace(url: str) -> str:
        if url not in codes:
            codes[url] = link_rows.insert_link(
                conn,
                rules.new_code,
                account_id,
                url,
                now,
                campaign_public_id=campaign_public_id,
                phone=recipient_phone,
            )
        return rules.short_url(base_url, codes[url])

    return rules.replace_urls(text, replace)


async def follow(ctx: Context, code: str, user_agent: str | None) -> str | None:
    """The target of a short link, its click counted; None for an unknown code."""
    if not rules.is_code(code):
        return None
    agent = rules.agent_class(user_agent)
    now = datetime.now(UTC)
    return await ctx.store.write(lambda conn: link_rows.record_click(conn, code, agent, now))


async def target_of(ctx: Context, code: str) -> str | None:
    """The target of a short link, without counting a click."""
    if not rules.is_code(code):
        return None
    row = await ctx.store.read(lambda conn: link_rows.find_link(conn, code))
    return None if row is None else str(row["target"])


@dataclass(frozen=True)
class LinkStats:
    target: str
    clicks: int
    by_class: dict[str, int]
    last_click_at: datetime | None


async def stats(ctx: Context, code: str) -> LinkStats | None:
    """Clicks of a short link: total, by user-agent class, and the last one's time."""

    def read(conn: Connection) -> LinkStats | None:
        row = link_rows.find_link(conn, code)
        if row is None:
            return None
        by_class = link_rows.clicks_by_class(conn, row["id"])
        return LinkStats(row["target"], row["clicks"], by_class, row["last_click_at"])

    return await ctx.store.read(read)
