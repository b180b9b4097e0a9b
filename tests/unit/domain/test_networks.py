"""Allow-list entries, client addresses and X-Forwarded-For behind trusted proxies."""

from __future__ import annotations

import pytest

from hirondelle.domain.networks import (
    BadNetwork,
    address_in,
    forwarded_client,
    parse_address,
    parse_network,
    parse_networks,
)


@pytest.mark.parametrize(
    ("entry", "canonical"),
    [
        ("203.0.113.7", "203.0.113.7/32"),
        (" 203.0.113.0/24 ", "203.0.113.0/24"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("2001:DB8::1", "2001:db8::1/128"),
        ("2001:db8:0:0::/32", "2001:db8::/32"),
        ("::ffff:192.0.2.1", "192.0.2.1/32"),  # an IPv4-mapped address is the IPv4 one
        ("fe80::1%eth0", "fe80::1/128"),
    ],
)
def test_entries_in_canonical_form(entry: str, canonical: str) -> None:
    assert str(parse_network(entry)) == canonical


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("", "empty"),
        ("example.com", "not an IPv4 or IPv6 address"),
        ("256.1.1.1", "not an IPv4 or IPv6 address"),
        ("10.1.2.3/8", "did you mean 10.0.0.0/8?"),
        ("2001:db8::1/32", "did you mean 2001:db8::/32?"),
        ("10.0.0.0/33", "not an address or a CIDR range"),
        ("10.0.0.0/x", "not an address or a CIDR range"),
    ],
)
def test_bad_entries_say_why(entry: str, says: str) -> None:
    with pytest.raises(BadNetwork, match=says.replace("?", r"\?")):
        parse_network(entry)


def test_entries_once_each_in_order() -> None:
    networks = parse_networks(["10.0.0.1", "2001:db8::/32", "10.0.0.1/32", "10.0.0.0/8"])
    assert [str(n) for n in networks] == ["10.0.0.1/32", "2001:db8::/32", "10.0.0.0/8"]


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", False),
        ("198.51.100.77", True),  # in the /24
        ("198.51.101.1", False),
        ("::ffff:198.51.100.9", True),  # a dual-stack server's view of an IPv4 client
        ("2001:db8:ffff::5", True),  # in the /32
        ("2001:db9::1", False),
        ("::1", False),
        ("not an address", False),
        ("", False),
        (None, False),
    ],
)
def test_address_in(address: str | None, allowed: bool) -> None:
    networks = parse_networks(["127.0.0.1", "198.51.100.0/24", "2001:db8::/32"])
    assert address_in(address, networks) is allowed


def test_an_ipv4_address_is_never_in_an_ipv6_range() -> None:
    assert not address_in("0.0.0.1", parse_networks(["::/0"]))
    assert address_in("0.0.0.1", parse_networks(["0.0.0.0/0"]))


def test_parse_address() -> None:
    assert str(parse_address("::ffff:10.1.2.3")) == "10.1.2.3"
    assert parse_address("testclient") is None


TRUSTED = parse_networks(["10.0.0.0/8", "::1"])


@pytest.mark.parametrize(
    ("peer", "header", "client"),
    [
        # an untrusted peer: the header is whatever it chose to send
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),
        # a trusted proxy: the address it appended
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        # a chain of trusted proxies: the right-most entry that is not one of them...
        ("10.0.0.2", "198.51.100.1, 10.1.1.1", "198.51.100.1"),
        # ...never an entry the client wrote to the left of it
        ("10.0.0.2", "127.0.0.1, 198.51.100.1", "198.51.100.1"),
        ("::1", "2001:db8::7", "2001:db8::7"),
        # every entry trusted: the left-most
        ("10.0.0.2", "10.3.3.3, 10.1.1.1", "10.3.3.3"),
        # no entry: the peer itself
        ("10.0.0.2", " , ", "10.0.0.2"),
        # ports some proxies add
        ("10.0.0.2", "198.51.100.1:5555", "198.51.100.1"),
        ("10.0.0.2", "[2001:db8::7]:443", "2001:db8::7"),
        # an entry that is no address stays as written (and no allow-list allows it)
        ("10.0.0.2", "unknown", "unknown"),
    ],
)
def test_forwarded_client(peer: str, header: str, client: str) -> None:
    assert forwarded_client(peer, header, TRUSTED) == client


def test_forwarded_client_with_no_trusted_proxy() -> None:
    assert forwarded_client("127.0.0.1", "198.51.100.1", ()) == "127.0.0.1"
