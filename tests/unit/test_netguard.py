"""The SSRF guard: which addresses are refused, and that refusal comes before any connection."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hirondelle.notify import netguard

pytestmark = pytest.mark.anyio


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every socket connection attempted during the test; one to a non-loopback address fails.

    Tests must never send traffic outside the machine: this makes a slip loud instead of silent.
    """
    attempts: list[Any] = []
    real_connect = socket.socket.connect

    def connect(sock: socket.socket, address: Any) -> None:
        attempts.append(address)
        host = address[0] if isinstance(address, tuple) else None
        if host is not None and not ipaddress.ip_address(host).is_loopback:
            raise AssertionError(f"test tried to connect to {address}")
        real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    yield attempts


class FakeResolver:
    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "unknown")
        return self.answers[host]


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("2002:7f00:1::", "loopback"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ],
)
def test_forbidden_addresses(address: str, reason: str) -> None:
    ip = ipaddress.ip_address(address)
    assert netguard.forbidden_reason(ip) == reason
    with pytest.raises(netguard.BlockedAddress, match=reason):
        netguard.check_ip(ip)
    netguard.check_ip(ip, allow_private=True)


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert netguard.forbidden_reason(ip) is None
    netguard.check_ip(ip)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("10.1.2.3", "10.1.2.3"),
        ("[::1]", "::1"),
        ("2130706433", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("fe80::1%eth0", "fe80::1"),
    ],
)
def test_ip_literals_in_every_form(host: str, address: str) -> None:
    assert netguard.ip_literal(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", ["example.com", "localhost", "a.b.c.d", "1.2.3.example"])
def test_names_are_not_literals(host: str) -> None:
    assert netguard.ip_literal(host) is None


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "api.localhost", "127.0.0.1", "[::1]"])
def test_static_check_refuses_loopback_without_dns(host: str) -> None:
    with pytest.raises(netguard.BlockedAddress):
        netguard.check_host_statically(host)
    netguard.check_host_statically(host, allow_private=True)


async def test_a_literal_is_checked_without_asking_dns() -> None:
    resolver = FakeResolver({})
    with pytest.raises(netguard.BlockedAddress, match=r"10\.1\.2\.3 is private"):
        await netguard.resolve_checked("10.1.2.3", 80, resolver=resolver)
    assert resolver.asked == []


async def test_one_private_address_refuses_the_whole_name() -> None:
    resolver = FakeResolver({"mixed.test": ["93.184.215.14", "10.0.0.7"]})
    with pytest.raises(netguard.BlockedAddress, match=r"mixed\.test resolves to 10\.0\.0\.7"):
        await netguard.resolve_checked("mixed.test", 80, resolver=resolver)
    allowed = await netguard.resolve_checked(
        "mixed.test", 80, resolver=resolver, allow_private=True
    )
    assert [str(ip) for ip in allowed] == ["93.184.215.14", "10.0.0.7"]


async def test_unresolvable_and_empty_answers() -> None:
    resolver = FakeResolver({"empty.test": []})
    with pytest.raises(netguard.UnresolvableHost, match=r"nowhere\.test"):
        await netguard.resolve_checked("nowhere.test", 80, resolver=resolver)
    with pytest.raises(netguard.UnresolvableHost):
        await netguard.resolve_checked("empty.test", 80, resolver=resolver)


async def test_the_system_resolver_resolves_localhost() -> None:
    addresses = await netguard.system_resolver("localhost", 80)
    assert addresses and all(ipaddress.ip_address(a).is_loopback for a in addresses)


def _recording_client(seen: list[httpx.Request], status: int = 200) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, headers={"location": "http://10.0.0.1/"})

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_guarded_request_connects_to_the_checked_address() -> None:
    seen: list[httpx.Request] = []
    resolver = FakeResolver({"shop.test": ["93.184.215.14"]})
    async with _recording_client(seen) as client:
        response = await netguard.guarded_request(
            client, "HEAD", "https://shop.test:8443/a?b=1", resolver=resolver
        )
    assert response.status_code == 200
    (request,) = seen
    assert request.url == httpx.URL("https://93.184.215.14:8443/a?b=1")
    assert request.headers["host"] == "shop.test:8443"
    assert request.extensions["sni_hostname"] == "shop.test"


async def test_guarded_request_does_not_follow_redirects() -> None:
    seen: list[httpx.Request] = []
    resolver = FakeResolver({"shop.test": ["2606:4700::1111"]})
    async with _recording_client(seen, status=302) as client:
        response = await netguard.guarded_request(
            client, "GET", "http://shop.test/", resolver=resolver
        )
    assert response.status_code == 302
    assert len(seen) == 1
    assert seen[0].url.host == "2606:4700::1111"
    assert seen[0].headers["host"] == "shop.test"


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/",
        "http://127.0.0.1:8080/admin",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://2130706433/",
        "http://inside.test/",
        "file:///etc/passwd",
        "gopher://example.com/",
    ],
)
async def test_refusals_happen_before_any_request(url: str, connections: list[Any]) -> None:
    seen: list[httpx.Request] = []
    resolver = FakeResolver({"inside.test": ["192.168.0.10"]})
    async with _recording_client(seen) as client:
        with pytest.raises(netguard.NetGuardError):
            await netguard.guarded_request(client, "GET", url, resolver=resolver)
    assert seen == []
    assert connections == []


async def test_connection_spy_refuses_outside_addresses(connections: list[Any]) -> None:
    sock = socket.socket()
    try:
        with pytest.raises(AssertionError, match="tried to connect"):
            sock.connect(("10.1.2.3", 80))
    finally:
        sock.close()
    assert connections == [("10.1.2.3", 80)]
