"""The SSRF guard: outgoing HTTP goes only to public addresses, unless the operator allows more.

Whoever makes Hirondelle fetch a URL (shortenUrl's reachability check, webhooks) must not be able
to aim it at the machine itself or at its private network. So, before any connection:

1. the host is resolved (an IP literal in any legacy form — `2130706433`, `0x7f.1` — counts);
2. *every* resolved address is checked, and one forbidden address refuses the whole host (a name
   with one public and one private address would otherwise be a coin toss);
3. the connection goes to the address that was checked, never to a second resolution of the name
   (no DNS rebinding): the URL is rewritten to the IP, with the original `Host` header and, for
   https, the original name for SNI and certificate checks;
4. redirects are not followed here (each hop would need the same check).

Forbidden: anything that is not globally routable — loopback, private (RFC 1918, ULA),
link-local, carrier-grade NAT, multicast, reserved, unspecified, documentation ranges, and IPv6
forms that embed such an IPv4 address. `allow_private=True` (the `allow_private_addresses`
setting) lifts the rule for installations that call their own LAN, and for tests.

Use: `await guarded_request(client, "GET", url, allow_private=False, timeout=5)`, or
`await resolve_checked(host, port)` to check before connecting by other means.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

DEFAULT_PORTS = {"http": 80, "https": 443}


class NetGuardError(Exception):
    """A URL or host the guard refuses; the message is safe to show to a client."""


class BlockedAddress(NetGuardError):
    """The host is, or resolves to, an address that is not public."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what}: connections to it are not allowed (the allow_private_addresses setting "
            "of the server lifts this rule)"
        )


class UnresolvableHost(NetGuardError):
    """The host name does not resolve."""


class BlockedUrl(NetGuardError):
    """The URL is not an http(s) URL with a host."""


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why `ip` may not be connected to (`"loopback"`, `"private"`, ...), or None if public."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None:
            return forbidden_reason(embedded)
        if ip.teredo is not None:
            return "Teredo"
    for reason in (
        "loopback",
        "link_local",
        "multicast",
        "unspecified",
        "reserved",
        "private",
    ):
        if getattr(ip, "is_" + reason):
            return reason.replace("_", "-")
    if not ip.is_global:
        return "non-public"
    return None


def ip_literal(host: str) -> IPAddress | None:
    """The address `host` denotes by itself, without DNS, or None for a name.

    Besides the usual forms, IPv4 in the legacy forms browsers and `inet_aton` accept
    (`2130706433`, `127.1`, `0x7f.0.0.1`) is recognized, so that it cannot slip past as a name.
    """
    host = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host and all(part.isalnum() for part in host.split(".")) and host[-1:].isalnum():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def check_ip(ip: IPAddress, *, allow_private: bool = False) -> None:
    """Raise BlockedAddress unless `ip` is public (or private addresses are allowed)."""
    reason = forbidden_reason(ip)
    if reason is not None and not allow_private:
        raise BlockedAddress(f"The address {ip} is {reason}")


def check_host_statically(host: str, *, allow_private: bool = False) -> None:
    """Refuse, without DNS, a host that is a forbidden IP literal or a `localhost` name.

    For callers that store a URL now and connect later (or never): the resolved check still has
    to happen at connection time.
    """
    literal = ip_literal(host)
    if literal is not None:
        check_ip(literal, allow_private=allow_private)
    name = host.rstrip(".").lower()
    if not allow_private and (name == "localhost" or name.endswith(".localhost")):
        raise BlockedAddress(f"The host {host} is loopback")


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def resolve_checked(
    host: str,
    port: int,
    *,
    allow_private: bool = False,
    timeout: float = 5.0,
    resolver: Resolver | None = None,
) -> list[IPAddress]:
    """Every address of `host`, all checked; BlockedAddress if any one is forbidden.

    An IP literal is checked as it is, without asking DNS.
    """
    literal = ip_literal(host)
    if literal is not None:
        check_ip(literal, allow_private=allow_private)
        return [literal]
    try:
        raw = await asyncio.wait_for((resolver or system_resolver)(host, port), timeout)
    except (OSError, TimeoutError, UnicodeError) as exc:
        raise UnresolvableHost(f"The host {host} cannot be resolved") from exc
    addresses: list[IPAddress] = []
    for text in raw:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
        reason = forbidden_reason(ip)
        if reason is not None and not allow_private:
            raise BlockedAddress(f"The host {host} resolves to {ip}, which is {reason}")
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise UnresolvableHost(f"The host {host} cannot be resolved")
    return addresses


def pinned_url(url: httpx.URL, ip: IPAddress) -> httpx.URL:
    """`url` aimed at `ip` instead of its host name."""
    return url.copy_with(host=str(ip))


def checked_url(url: str) -> tuple[httpx.URL, int]:
    """The parsed URL and its port; BlockedUrl unless it is an http(s) URL with a host."""
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise BlockedUrl(f"The URL is malformed: {exc}") from exc
    if target.scheme not in DEFAULT_PORTS or not target.host:
        raise BlockedUrl("Only http and https URLs with a host are allowed")
    return target, target.port or DEFAULT_PORTS[target.scheme]


async def guarded_request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    allow_private: bool = False,
    resolver: Resolver | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """`client.request(method, url, ...)` through the guard (see the module docstring).

    Raises a NetGuardError before any connection when the URL or its addresses are refused;
    network errors are httpx's. Redirects are returned, not followed.
    """
    target, port = checked_url(url)
    timeout = kwargs.get("timeout")
    dns_timeout = timeout if isinstance(timeout, (int, float)) else 5.0
    addresses = await resolve_checked(
        target.host, port, allow_private=allow_private, timeout=dns_timeout, resolver=resolver
    )
    headers = httpx.Headers(kwargs.pop("headers", None))
    headers["Host"] = target.netloc.decode("ascii").rpartition("@")[2]
    extensions = dict(kwargs.pop("extensions", None) or {})
    if target.scheme == "https":
        extensions["sni_hostname"] = target.host
    return await client.request(
        method,
        pinned_url(target, addresses[0]),
        headers=headers,
        extensions=extensions,
        follow_redirects=False,
        **kwargs,
    )
