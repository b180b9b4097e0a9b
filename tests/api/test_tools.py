"""shortenUrl and the /s/<code> redirect end to end, and the links of SHORTEN=1 messages."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from hirondelle.config import Settings
from hirondelle.context import Context
from hirondelle.domain import links as rules
from hirondelle.notify import netguard
from hirondelle.services import links
from hirondelle.store.accounts import find_by_login
from hirondelle.store.emails import emails_of_campaign, find_campaign
from hirondelle.store.schema import email_campaigns, emails, link_clicks, short_links
from tests.conftest import count_rows, make_settings
from tests.helpers import json_answer, make_account, xml_answer
from tests.unit.test_netguard import connections  # noqa: F401  (fixture)

BASE = "https://sms.example.test"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, public_url=BASE, link_check=False)


class LocalSite:
    """A tiny HTTP server on 127.0.0.1 that records the requests it gets."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str | None]] = []
        self.status = 200
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                site.requests.append(("HEAD", self.path, self.headers.get("host")))
                self.send_response(site.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LocalSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with LocalSite() as running:
        yield running


def _shorten(client: TestClient, creds: Any, url: str, **extra: str) -> Any:
    return client.get("/http/9.0/shortenUrl/", params=creds.params(url=url, **extra))


def _code(short: str) -> str:
    assert short.startswith(BASE + "/s/")
    return short.removeprefix(BASE + "/s/")


def test_shorten_url_answers_the_manual_fields(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx)
    answer = json_answer(_shorten(client, creds, "https://www.example.com/promo?x=1"))
    assert set(answer) == {"url", "shortUrl"}
    assert answer["url"] == "https://www.example.com/promo?x=1"
    code = _code(answer["shortUrl"])
    assert len(code) >= 7 and rules.is_code(code)
    again = json_answer(_shorten(client, creds, "https://www.example.com/promo?x=1"))
    assert again["shortUrl"] != answer["shortUrl"]


def test_shorten_url_in_xml(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx)
    root = xml_answer(_shorten(client, creds, "http://example.org/a&b", returnformat="xml"))
    assert root.tag == "shortenUrl"
    assert root.findtext("url") == "http://example.org/a&b"
    assert rules.is_code(_code(root.findtext("shortUrl")))


def test_a_short_link_redirects_and_counts_its_clicks(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx)
    short = json_answer(_shorten(client, creds, "https://example.com/landing"))["shortUrl"]
    code = _code(short)
    agents = {
        "mobile": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148",
        "desktop": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120",
        "bot": "Googlebot/2.1",
    }
    for agent in [*agents.values(), agents["mobile"]]:
        response = client.get(f"/s/{code}", headers={"user-agent": agent}, follow_redirects=False)
        assert response.status_code == 302
        assert response.headers["location"] == "https://example.com/landing"
        assert response.headers["cache-control"] == "no-store"
    head = client.head(f"/s/{code}", follow_redirects=False)
    assert head.status_code == 302

    stats = _stats(ctx, code)
    assert stats.clicks == 4
    assert stats.by_class == {"mobile": 2, "desktop": 1, "bot": 1}
    assert stats.last_click_at is not None
    assert count_rows(ctx, link_clicks) == 4


def _stats(ctx: Context, code: str) -> links.LinkStats:
    result = asyncio.run(links.stats(ctx, code))
    assert result is not None
    return result


@pytest.mark.parametrize("code", ["Zzzzzzzz", "short", "bad-code!", "a" * 40])
def test_unknown_codes_are_404(client: TestClient, ctx: Context, code: str) -> None:
    response = client.get(f"/s/{code}", follow_redirects=False)
    assert response.status_code == 404
    assert count_rows(ctx, link_clicks) == 0


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "127.0.0.1 is loopback"),
        ("http://10.1.2.3/", "10.1.2.3 is private"),
        ("file:///etc/passwd", "Only http and https URLs"),
        ("http://[::1]:8080/", "::1 is loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://2130706433/", "127.0.0.1 is loopback"),
        ("http://localhost:8080/", "localhost is loopback"),
        ("ftp://example.com/file", "Only http and https URLs"),
        ("http://user:secret@example.com/", "user name or password"),
        ("http://exa mple.com/", "spaces"),
    ],
)
@pytest.mark.parametrize("link_check", [False, True])
def test_bad_urls_are_refused_before_any_connection(
    client: TestClient,
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
    connections: list[Any],  # noqa: F811
    url: str,
    reason: str,
    link_check: bool,
) -> None:
    asked: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        raise AssertionError("no resolution expected")

    monkeypatch.setattr(netguard, "system_resolver", resolver)
    ctx.settings.link_check = link_check
    creds = make_account(ctx)
    answer = json_answer(_shorten(client, creds, url))
    assert set(answer) == {"error"}
    assert answer["error"].startswith("URL refused: ")
    assert reason in answer["error"]
    assert count_rows(ctx, short_links) == 0
    assert asked == []
    assert connections == []


def test_a_name_resolving_to_a_private_address_is_refused(
    client: TestClient,
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
    connections: list[Any],  # noqa: F811
) -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.9.8.7"]

    monkeypatch.setattr(netguard, "system_resolver", resolver)
    ctx.settings.link_check = True
    creds = make_account(ctx)
    answer = json_answer(_shorten(client, creds, "https://intranet.example.com/"))
    assert "intranet.example.com resolves to 10.9.8.7, which is private" in answer["error"]
    assert connections == []
    assert count_rows(ctx, short_links) == 0


def test_the_check_reaches_an_allowed_local_server(
    client: TestClient, ctx: Context, site: LocalSite
) -> None:
    ctx.settings.link_check = True
    ctx.settings.allow_private_addresses = True
    creds = make_account(ctx)
    answer = json_answer(_shorten(client, creds, site.url + "/page?q=1"))
    assert answer["url"] == site.url + "/page?q=1"
    assert site.requests == [("HEAD", "/page?q=1", f"127.0.0.1:{site.port}")]

    site.status = 404
    refused = json_answer(_shorten(client, creds, site.url + "/gone"))
    assert refused == {"error": "URL refused: The URL is not reachable (HTTP 404)"}
    site.status = 405  # HEAD not allowed: the page exists
    assert "shortUrl" in json_answer(_shorten(client, creds, site.url + "/no-head"))
    assert count_rows(ctx, short_links) == 2


def test_a_local_server_is_not_reached_unless_allowed(
    client: TestClient, ctx: Context, site: LocalSite
) -> None:
    ctx.settings.link_check = True
    creds = make_account(ctx)
    answer = json_answer(_shorten(client, creds, site.url + "/"))
    assert "127.0.0.1 is loopback" in answer["error"]
    assert site.requests == []


def test_an_unreachable_url_is_refused(client: TestClient, ctx: Context, site: LocalSite) -> None:
    ctx.settings.link_check = True
    ctx.settings.allow_private_addresses = True
    site.server.shutdown()
    site.server.server_close()  # nothing listens on the port any more
    creds = make_account(ctx)
    answer = json_answer(_shorten(client, creds, site.url + "/"))
    assert answer["error"].startswith("URL refused: The URL is not reachable (")
    assert count_rows(ctx, short_links) == 0


def test_shorten_url_needs_a_url_and_credentials(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx)
    missing = json_answer(client.get("/http/9.0/shortenUrl", params=creds.params()))
    assert missing["error"].startswith("Missing parameter: url")
    bad = json_answer(
        client.get("/http/9.0/shortenUrl", params={"login": "alice", "apiKey": "x", "url": BASE})
    )
    assert "credentials" in bad["error"]
    assert count_rows(ctx, short_links) == 0


def test_message_urls_become_one_link_per_recipient(client: TestClient, ctx: Context) -> None:
    make_account(ctx)
    account_id = ctx.store.read_sync(lambda conn: find_by_login(conn, "alice")["id"])
    text = "Promo https://shop.example/a?x=1 and https://shop.example/b. Again https://shop.example/a?x=1"

    def shorten_for(phone: str) -> str:
        return ctx.store.write_sync(
            lambda conn: links.shorten_message_urls(
                conn, account_id, "camp-1", text, phone, ctx.settings.base_url
            )
        )

    first, second = shorten_for("33611111111"), shorten_for("33622222222")
    assert first != second
    for shortened in (first, second):
        found = rules.find_urls(shortened)
        assert len(found) == 3 and found[0] == found[2] != found[1]
        assert all(url.startswith(BASE + "/s/") for url in found)
        assert shortened.startswith("Promo ") and shortened.endswith(found[2])
    assert count_rows(ctx, short_links) == 4

    code = _code(rules.find_urls(second)[1])
    response = client.get(f"/s/{code}", follow_redirects=False)
    assert response.headers["location"] == "https://shop.example/b"
    row = ctx.store.read_sync(
        lambda conn: conn.execute(short_links.select().where(short_links.c.code == code)).first()
    )
    assert (row.phone, row.campaign_public_id, row.clicks) == ("33622222222", "camp-1", 1)
    unchanged = ctx.store.write_sync(
        lambda conn: links.shorten_message_urls(conn, account_id, "c", "no url", "336", BASE)
    )
    assert unchanged == "no url"


# -- sendEmail ---------------------------------------------------------------------------------

HTML = base64.b64encode("<p>Bonjour <b>à tous</b></p>".encode()).decode()


def email_feed(**changes: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "FROM": "news@shop.example",
        "TO": "a@x.example;b@y.example,c@z.example",
        "SUBJECT": "Spring sale",
        "HTML": HTML,
        "ALIAS": "Shop",
        "REPLY_TO": "help@shop.example",
        "CAMPAIGN_NAME": "spring",
    }
    data.update(changes)
    return {"DATA": {k: v for k, v in data.items() if v is not None}}


def _send_email(client: TestClient, creds: Any, feed: Any, **extra: str) -> Any:
    data = feed if isinstance(feed, str) else orjson.dumps(feed).decode()
    return client.post("/http/9.0/sendEmail/", data=creds.params(emailData=data, **extra))


def _balance(ctx: Context, login: str = "alice") -> int:
    return int(ctx.store.read_sync(lambda conn: find_by_login(conn, login)["balance"]))


def test_send_email_accepts_and_debits(client: TestClient, ctx: Context) -> None:
    ctx.settings.email_credits = 2
    creds = make_account(ctx, credits=100)
    answer = json_answer(_send_email(client, creds, email_feed(TO="a@x.example;bad;b@y.example")))
    assert answer == {
        "status": 100,
        "statusText": "The message has been sent",
        "campaignId": answer["campaignId"],
        "invalidEmails": "bad",
        "credits": 96,
    }
    assert _balance(ctx) == 96
    rows = ctx.store.read_sync(lambda conn: emails_of_campaign(conn, answer["campaignId"]))
    assert [(r["recipient"], r["state"], r["credits"]) for r in rows] == [
        ("a@x.example", "queued", 2),
        ("b@y.example", "queued", 2),
    ]
    campaign = ctx.store.read_sync(lambda conn: find_campaign(conn, answer["campaignId"]))
    assert (campaign["alias"], campaign["reply_to"], campaign["name"]) == (
        "Shop",
        "help@shop.example",
        "spring",
    )
    assert campaign["html"] == "<p>Bonjour <b>à tous</b></p>"


def test_send_email_in_xml(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx, credits=10)
    feed = (
        "<DATA><FROM>news@shop.example</FROM><TO>a@x.example</TO>"
        f"<SUBJECT><![CDATA[Soldes & promos]]></SUBJECT><HTML>{HTML}</HTML>"
        "<MAILTEXT>Bonjour\\nà tous</MAILTEXT></DATA>"
    )
    root = xml_answer(_send_email(client, creds, feed))
    assert root.tag == "sendEmail"
    assert root.findtext("status") == "100"
    assert root.findtext("invalidEmails") == ""
    assert root.findtext("credits") == "9"
    campaign_id = root.findtext("campaignId")
    campaign = ctx.store.read_sync(lambda conn: find_campaign(conn, campaign_id))
    assert (campaign["subject"], campaign["text"]) == ("Soldes & promos", "Bonjour\nà tous\n")


def test_send_email_scheduled(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx, credits=10)
    answer = json_answer(_send_email(client, creds, email_feed(DATE="2099-06-01 10:00:00")))
    assert answer["status"] == 101
    assert answer["statusText"] == "The message was scheduled to be sent at 2099-06-01 10:00:00"
    assert answer["credits"] == 7
    rows = ctx.store.read_sync(lambda conn: emails_of_campaign(conn, answer["campaignId"]))
    assert {str(r["due_at"])[:16] for r in rows} == {"2099-06-01 08:00"}


@pytest.mark.parametrize(
    ("feed", "status", "text"),
    [
        (None, 105, "Empty XML / JSON"),
        ("{}", 105, "Empty XML / JSON"),
        ('{"DATA": {"FROM": "a@b.example"', 109, "invalid JSON"),
        ("<DATA><FROM>a@b.example</DATA>", 109, "invalid XML"),
        ('<!DOCTYPE x [<!ENTITY e "x">]><DATA/>', 109, "DOCTYPE"),
        (email_feed(FROM=None), 106, "sender invalid or void"),
        (email_feed(FROM="shop"), 106, "'shop' is not an email address"),
        (email_feed(FROM="a@b.example\r\nBcc: v@w.example"), 106, "FROM must be on one line"),
        (email_feed(ALIAS="Shop\r\nBcc: v@w.example"), 106, "ALIAS must be on one line"),
        (email_feed(REPLY_TO="r@b.example\nBcc: v@w.example"), 106, "REPLY_TO must be"),
        (email_feed(SUBJECT=None), 107, "Subject of the email is empty"),
        (email_feed(SUBJECT="Hi\r\nBcc: v@w.example"), 107, "SUBJECT must be on one line"),
        (email_feed(HTML="not base64!"), 109, "not valid base64"),
        (email_feed(HTML=None), 109, "HTML is missing"),
        (email_feed(TO=None), 110, "undefined recipients"),
        (email_feed(TO="x; y@; @z.example"), 114, "No valid email address"),
        (email_feed(DATE="2026-13-01 10:00:00"), 115, "badly formatted dates"),
    ],
)
def test_send_email_refusals_change_nothing(
    client: TestClient, ctx: Context, feed: Any, status: int, text: str
) -> None:
    creds = make_account(ctx, credits=100)
    if feed is None:
        response = client.post("/http/9.0/sendEmail", data=creds.params())
    else:
        response = _send_email(client, creds, feed)
    answer = json_answer(response) if not str(feed).startswith("<") else None
    if answer is None:
        root = xml_answer(response)
        answer = {"status": int(root.findtext("status")), "statusText": root.findtext("statusText")}
    assert set(answer) == {"status", "statusText"}
    assert answer["status"] == status
    assert text in answer["statusText"]
    assert count_rows(ctx, email_campaigns) == 0
    assert count_rows(ctx, emails) == 0
    assert _balance(ctx) == 100


def test_send_email_insufficient_credits(client: TestClient, ctx: Context) -> None:
    ctx.settings.email_credits = 5
    creds = make_account(ctx, credits=12)
    answer = json_answer(_send_email(client, creds, email_feed()))
    assert answer == {
        "status": 104,
        "statusText": "Insufficient credit to handle the shipment. Use: 15 Credits, "
        "Available: 12 Credits. Please re-credit your account",
    }
    assert count_rows(ctx, email_campaigns) == 0
    assert _balance(ctx) == 12


def test_send_email_bad_credentials(client: TestClient, ctx: Context) -> None:
    make_account(ctx)
    response = client.post(
        "/http/9.0/sendEmail",
        data={
            "login": "alice",
            "apiKey": "wrong",
            "emailData": orjson.dumps(email_feed()).decode(),
        },
    )
    answer = json_answer(response)
    assert answer["status"] == 102
    assert answer["statusText"].startswith("Connection Problem")
    assert count_rows(ctx, email_campaigns) == 0
