"""The replies inbox, the blacklist and the sub-accounts in a real browser, against a real
`hirondelle serve` (its embedded SMSC simulator): a reply injected with `hirondelle sim mo`
shows in the inbox and its STOP lands on the blacklist; a master creates a sub-account and
moves credits to it and back. No page breaks its Content-Security-Policy.

Chromium missing skips (or, in CI, fails) as in tests/browser/test_no_script.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.test_no_script import chromium
from tests.processes import Running
from tests.unit.test_server import CURL

LOGIN = "dora"
PASSWORD = "dora-secret-7"
REPLY_NUMBER = "38123"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    chromium()
    home = tmp_path_factory.mktemp("records")
    env = {
        "HIRONDELLE_DATABASE_URL": f"sqlite:///{home}/var/serve.db",
        "HIRONDELLE_VAR_DIR": str(home / "var"),
    }
    with Running(["serve", "--port", "0"], cwd=home, env=env) as running:
        url = urlsplit(running.expect(CURL.pattern)["url"])
        site = f"{url.scheme}://{url.netloc}"
        for args in (
            ["accounts", "create", LOGIN, "--password", PASSWORD, "--credits", "900"],
            ["accounts", "set", LOGIN, "--reply-number", REPLY_NUMBER],
            ["sim", "mo", "+33612345678", "Hello from the beach", "--to", REPLY_NUMBER],
            ["sim", "mo", "+33698765432", "STOP", "--to", REPLY_NUMBER],
        ):
            code, lines = Running([*args, *_server(args, site)], cwd=home, env=env).finish()
            assert code == 0, lines
        yield site
        running.terminate()


def _server(args: list[str], site: str) -> list[str]:
    return ["--server", site] if args[0] == "sim" else []


def _signed_in(browser: Any, base: str) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(f"{base}/account/")
    page.fill("#login", LOGIN)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#credits")
    return context, page, console


def test_a_reply_shows_in_the_inbox_and_its_stop_on_the_blacklist(browser: Any, base: str) -> None:
    context, page, console = _signed_in(browser, base)
    try:
        page.click("nav.account-nav >> text=Replies")
        page.wait_for_selector("#replies")
        inbox = page.text_content("#replies") or ""
        assert "Hello from the beach" in inbox and "+33612345678" in inbox
        assert page.locator("#replies .tag.stop").count() == 1
        page.click("nav.account-nav >> text=Blacklist")
        page.wait_for_selector("#blacklist")
        listed = page.text_content("#blacklist") or ""
        assert "+33698765432" in listed and "STOP from the handset" in listed
        assert "+33612345678" not in listed
    finally:
        context.close()
    assert [line for line in console if "Content Security Policy" in line] == []
    assert console == [], console


def test_a_master_creates_a_sub_account_and_moves_credits(browser: Any, base: str) -> None:
    context, page, console = _signed_in(browser, base)
    try:
        page.click("nav.account-nav >> text=Sub-accounts")
        page.fill("#login", "dora-shop")
        page.fill("#password", "shop-secret-1")
        page.fill("#first_name", "Ann")
        page.fill("#last_name", "Shop")
        page.fill("#email", "ann@example.com")
        page.click("text=Create the sub-account")
        page.wait_for_url(f"{base}/account/sub-accounts/dora-shop")
        assert page.text_content("#sub-credits") == "0"
        page.fill("#credits", "250")
        page.click("text=Move the credits")
        page.wait_for_selector("#moved")
        assert page.text_content("#sub-credits") == "250"
        page.fill("#credits", "50")
        page.select_option("#direction", "back")
        page.click("text=Move the credits")
        page.wait_for_selector("#moved >> text=taken back")
        assert page.text_content("#sub-credits") == "200"
        page.click("nav.account-nav >> text=Credit statement")
        page.wait_for_selector("#statement")
        assert page.text_content("#credits") == "700"
        statement = page.text_content("#statement") or ""
        assert "Transfer sent" in statement and "Transfer received" in statement
    finally:
        context.close()
    assert [line for line in console if "Content Security Policy" in line] == []
    assert console == [], console


def test_the_pages_fit_a_phone(browser: Any, base: str) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(f"{base}/account/")
        page.fill("#login", LOGIN)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#credits")
        for path in ("replies", "blacklist", "lists", "statement", "api", "sub-accounts"):
            page.goto(f"{base}/account/{path}")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, f"/account/{path} scrolls sideways on a phone ({width}px)"
    finally:
        context.close()
