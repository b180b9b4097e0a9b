"""Client addresses and the networks that allow or trust them (IPv4 and IPv6, `ipaddress`).

An allow-list entry is an address (`203.0.113.7`, `2001:db8::1`) or a CIDR range
(`203.0.113.0/24`, `2001:db8::/32`). An IPv4 client seen by a dual-stack server as
`::ffff:203.0.113.7` is the IPv4 address it maps; a zone (`fe80::1%eth0`) is dropped.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class BadNetwork(ValueError):
    """Not an address or a CIDR range; the message says why, for people."""


def parse_address(text: str) -> Address | None:
    """The address `text` names (an IPv4-mapped IPv6 address as its IPv4 one), or None."""
    try:
        address = ipaddress.ip_address(text.strip().partition("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_network(text: str) -> Network:
    """An allow-list or trusted-proxy entry: an address (a network of one) or a CIDR range.

    A range with host bits set (`10.1.2.3/8`) is refused rather than widened in silence: the
    message names the range it would be.
    """
    value = text.strip()
    if not value:
        raise BadNetwork("an empty address")
    if "/" not in value:
        address = parse_address(value)
        if address is None:
            raise BadNetwork(f"{value!r} is not an IPv4 or IPv6 address")
        return ipaddress.ip_network(address)
    try:
        return ipaddress.ip_network(value)
    except ValueError as exc:
        try:
            wider = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise BadNetwork(f"{value!r} is not an address or a CIDR range ({exc})") from None
        raise BadNetwork(f"{value!r} has host bits set: did you mean {wider}?") from None


def parse_networks(texts: Iterable[str]) -> tuple[Network, ...]:
    """Entries in their canonical form, each once, in the order given."""
    found: dict[Network, None] = {}
    for text in texts:
        found.setdefault(parse_network(text))
    return tuple(found)


def address_in(address: str | None, networks: Sequence[Network]) -> bool:
    """Whether the client `address` falls in one of `networks` (an address that cannot be read
    is in none)."""
    parsed = parse_address(address) if address else None
    if parsed is None:
        return False
    return any(parsed.version == net.version and parsed in net for net in networks)


def forwarded_client(peer: str, forwarded_for: str, trusted: Sequence[Network]) -> str:
    """The client's address behind proxies: `peer` unless it is one of the `trusted` proxies;
    then the right-most address of `X-Forwarded-For` (`forwarded_for`, the headers joined by
    commas) that is not itself trusted — each proxy appends the peer it saw, so the entries
    left of the first untrusted one are whatever the client chose to send. When every entry is
    trusted, the left-most; when the header is empty, `peer`."""
    if not address_in(peer, trusted):
        return peer
    hops = [_without_port(hop.strip()) for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not address_in(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _without_port(hop: str) -> str:
    """An X-Forwarded-For entry as an address: `[2001:db8::1]:443` and `203.0.113.7:80` (some
    proxies add the port) lose it; an entry that is no address is kept as written."""
    if hop.startswith("[") and "]" in hop:
        hop = hop[1 : hop.index("]")]
    elif hop.count(":") == 1:
        hop = hop.partition(":")[0]
    address = parse_address(hop)
    return str(address) if address is not None else hop
