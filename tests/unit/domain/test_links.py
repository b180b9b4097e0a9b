"""Short-link rules: URLs in SMS text, shortenable targets, codes, user-agent classes."""

from __future__ import annotations

import pytest

from hirondelle.domain import links


@pytest.mark.parametrize(
    ("text", "urls"),
    [
        ("no link here", []),
        ("Go to https://example.com now", ["https://example.com"]),
        ("See http://a.fr/x?y=1&z=2.", ["http://a.fr/x?y=1&z=2"]),
        ("Two: http://a.fr, https://b.fr/p!", ["http://a.fr", "https://b.fr/p"]),
        ("(details at https://example.com/page)", ["https://example.com/page"]),
        (
            "wiki https://en.wikipedia.org/wiki/Swallow_(bird) ok",
            ["https://en.wikipedia.org/wiki/Swallow_(bird)"],
        ),
        ("HTTPS://EXAMPLE.COM/Promo", ["HTTPS://EXAMPLE.COM/Promo"]),
        ("line\nhttps://x.io/a\nSTOP au 36180", ["https://x.io/a"]),
        ("bare scheme http:// is no link", []),
        ("ftp://example.com and www.example.com are not http URLs", []),
        ('"https://q.fr/a"', ["https://q.fr/a"]),
    ],
)
def test_find_urls(text: str, urls: list[str]) -> None:
    assert links.find_urls(text) == urls


def test_replace_urls_keeps_the_text_around() -> None:
    text = "A http://a.fr/1, then https://b.fr/2. Bye"
    replaced = links.replace_urls(text, lambda url: f"<{url[-1]}>")
    assert replaced == "A <1>, then <2>. Bye"
    assert links.replace_urls("nothing", lambda url: "x") == "nothing"


def test_codes_are_long_random_and_recognized() -> None:
    codes = {links.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in codes:
        assert len(code) >= 7
        assert set(code) <= set(links.CODE_ALPHABET)
        assert links.is_code(code)
    assert len(links.new_code(12)) == 12
    with pytest.raises(ValueError):
        links.new_code(6)


@pytest.mark.parametrize("value", ["", "abc", "abcdef", "abc-defg", "abcdefg/", "é" * 8, "a" * 17])
def test_is_code_refuses_other_shapes(value: str) -> None:
    assert not links.is_code(value)


def test_short_url() -> None:
    assert links.short_url("https://s.example/", "Abcdefg1") == "https://s.example/s/Abcdefg1"


@pytest.mark.parametrize(
    "url", ["http://example.com", "https://example.com/a?b=c#d", "  https://x.fr:8443/  "]
)
def test_check_target_accepts_http_urls(url: str) -> None:
    assert links.check_target(url) == url.strip()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "empty"),
        ("file:///etc/passwd", "Only http and https"),
        ("ftp://example.com/", "Only http and https"),
        ("javascript:alert(1)", "Only http and https"),
        ("example.com", "Only http and https"),
        ("https:///path", "no host"),
        ("http://user:pw@example.com/", "user name or password"),
        ("http://example.com/a b", "spaces or control"),
        ("http://example.com/\r\nSet-Cookie:x", "spaces or control"),
        ("http://example.com:99999/", "malformed"),
        ("http://example.com/" + "a" * 2100, "longer than"),
    ],
)
def test_check_target_refuses(url: str, reason: str) -> None:
    with pytest.raises(links.BadUrl, match=reason):
        links.check_target(url)


@pytest.mark.parametrize(
    ("agent", "kind"),
    [
        (None, "other"),
        ("", "other"),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148", "mobile"),
        ("Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/120 Mobile Safari/537.36", "mobile"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120 Safari/537.36", "desktop"),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Safari/605.1.15", "desktop"),
        ("Googlebot/2.1 (+http://www.google.com/bot.html)", "bot"),
        ("WhatsApp/2.23.20.0 A", "bot"),
        ("curl/8.5.0", "bot"),
        ("SomethingElse/1.0", "other"),
    ],
)
def test_agent_class(agent: str | None, kind: str) -> None:
    assert links.agent_class(agent) == kind
