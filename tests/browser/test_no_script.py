"""In a real browser, no answer runs script (DESIGN.md §5 "Safe bytes").

A real `hirondelle serve` (embedded SMSC simulator) holds script payloads in a reply, a list, its
contacts and a sub-account; Debian's Chromium, driven by Playwright, opens API 9.0 URLs whose
method name, parameters or stored data carry such payloads, in JSON (served as `text/html`) and
XML. The payloads would write to the console and open a dialog; neither may happen.

Chromium missing skips these tests and says why; `.ci/run` sets HIRONDELLE_TEST_REQUIRE_BROWSER=1,
so in CI they run or fail. No browser is ever downloaded (`playwright install` is not used).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
import orjson
import pytest

from tests.processes import Running
from tests.unit.test_server import CURL

#: Set by .ci/run: a missing browser fails these tests instead of skipping them.
REQUIRE_ENV = "HIRONDELLE_TEST_REQUIRE_BROWSER"
#: What a payload does when it runs; nothing on the page may ever say it.
MARK = "pwned"
#: No `"` or space in the handler: JSON writes `"` as `\"`, which would break it.
IMG = f"<img src=x onerror=console.log('{MARK}');alert('{MARK}')>"
SCRIPT = f"<script>console.log('{MARK}');alert('{MARK}')</script>"
PAYLOAD = f'"{IMG}{SCRIPT}&'
#: A method name is one path segment: no `/`.
METHOD_PAYLOAD = f'"{IMG}&'
#: A reply is an SMS: short.
REPLY = f"Oui {IMG}"
PHONE = "33611111111"


def chromium() -> str:
    """Debian's Chromium with Playwright to drive it; skip (or fail, in CI) without them."""
    path = shutil.which("chromium")
    reason = None
    if path is None:
        reason = "Debian's chromium is not installed (apt-get install chromium)"
    elif importlib.util.find_spec("playwright") is None:
        reason = "the playwright package is not installed (the `test` extra)"
    if reason is None and path is not None:
        return path
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason}, and {REQUIRE_ENV}=1 makes the browser tests mandatory")
    pytest.skip(f"browser tests skipped: {reason}")


@dataclass(frozen=True)
class Server:
    base: str
    login: str
    api_key: str
    campaign: str

    def url(self, method: str, **params: str) -> str:
        query = urlencode({"login": self.login, "apiKey": self.api_key, **params})
        return f"{self.base}/http/9.0/{method}?{query}"


def until(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll `check` until it returns something true, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def api(http: httpx.Client, server: Server, method: str, **params: Any) -> Any:
    answer = http.post(server.url(method), data=params)
    assert answer.status_code == 200, answer.text
    return orjson.loads(answer.content)


def feed(**fields: Any) -> str:
    return orjson.dumps({"DATA": fields}).decode()


def store_payloads(http: httpx.Client, server: Server) -> Server:
    """A delivered SMS with a reply, a list with a contact, a sub-account: payloads in each."""
    sms = feed(MESSAGE="Bonjour", CAMPAIGN_NAME=PAYLOAD, SMS=[{"MOBILEPHONE": "0611111111"}])
    campaign = api(http, server, "sendSms", smsData=sms)["campaignId"]
    server = Server(server.base, server.login, server.api_key, campaign)

    def delivered() -> bool:
        acks = api(http, server, "getAcks", campId=campaign).get("acks", [])
        return any(ack["status"] == "1" for ack in acks)

    until(delivered, "the delivery receipt")
    injected = http.post(f"{server.base}/_sim/mo", json={"from": PHONE, "text": REPLY})
    assert injected.status_code == 200, injected.text
    until(lambda: api(http, server, "getPull", campId=campaign).get("mos"), "the reply")
    structure = [{"FIELDNAME": "Shop"}]
    created = api(http, server, "createList", listData=feed(LISTNAME=PAYLOAD, STRUCTURE=structure))
    contact = {"MOBILEPHONE": "0622222222", "SHOP": PAYLOAD}
    populated = api(
        http, server, "populateList", populateData=feed(LISTNAME=PAYLOAD, CONTACT=[contact])
    )
    account = feed(
        LOGIN="kid",
        PASSWORD="secret7",
        EMAIL="kid@example.com",
        LASTNAME=PAYLOAD,
        FIRSTNAME=PAYLOAD,
    )
    sub = api(http, server, "createSubAccount", accountData=account)
    assert (created["status"], populated["success"], sub["status"]) == (1, 1, 1)
    return server


@contextmanager
def serving(home: Path) -> Iterator[Server]:
    """A real `hirondelle serve` in `home` (SQLite, embedded simulator), and its demo account."""
    env = {
        "HIRONDELLE_DATABASE_URL": f"sqlite:///{home}/var/serve.db",
        "HIRONDELLE_VAR_DIR": str(home / "var"),
        "HIRONDELLE_SIMULATOR_RECEIPT_DELAY": "0",
    }
    with Running(["serve", "--port", "0"], cwd=home, env=env) as running:
        url = urlsplit(running.expect(CURL.pattern)["url"])
        params = dict(pair.split("=", 1) for pair in url.query.split("&"))
        yield Server(f"{url.scheme}://{url.netloc}", params["login"], params["apiKey"], "")
        running.terminate()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    chromium()
    with serving(tmp_path_factory.mktemp("serve")) as started, httpx.Client(timeout=10) as http:
        yield store_payloads(http, started)


def watch(browser: Any, load: Callable[[Any], bytes]) -> bytes:
    """Load a page with `load`; fail if any script ran (a dialog, a console line, the title)."""
    page = browser.new_page()
    dialogs: list[str] = []
    console: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda message: console.append(message.text))
    try:
        body = load(page)
        title = page.title()
    finally:
        page.close()
    ran = [
        *dialogs,
        *(line for line in console if MARK in line),
        *([title] if MARK in title else []),
    ]
    assert not ran, f"script ran: {ran}"
    return body


def open_in_browser(browser: Any, url: str) -> bytes:
    def load(page: Any) -> bytes:
        response = page.goto(url, wait_until="load")
        assert response is not None and response.status == 200, url
        body: bytes = response.body()
        return body

    return watch(browser, load)


def echoed(body: bytes) -> bool:
    """Whether the answer carries the payload (as text, escaped or not)."""
    text = body.decode().replace("\\u003c", "<").replace("&lt;", "<")
    return "<img src=x onerror" in text


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_method_names_and_parameters(
    browser: Any, server: Server, fmt: str, subtests: pytest.Subtests
) -> None:
    urls = [
        server.url(quote(METHOD_PAYLOAD, safe=""), returnformat=fmt),
        server.url("getInfo", subaccount=PAYLOAD, returnformat=fmt),
        server.url("getPull", campId=PAYLOAD, returnformat=fmt),
        server.url("getContacts", listName=PAYLOAD + "x", returnformat=fmt),
        server.url(
            "sendSms", smsData=feed(MESSAGE="Hi", SMS=[{"MOBILEPHONE": PAYLOAD}]), returnformat=fmt
        ),
    ]
    for url in urls:
        with subtests.test(url=url):
            assert echoed(open_in_browser(browser, url)), url


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_stored_reply_list_contact_and_sub_account(
    browser: Any, server: Server, fmt: str, subtests: pytest.Subtests
) -> None:
    urls = [
        server.url("getPull", campId=server.campaign, returnformat=fmt),
        server.url("getPullBySmsId", smsIds=_sms_id(server), returnformat=fmt),
        server.url("getLists", returnformat=fmt),
        server.url("getContacts", listName=PAYLOAD, returnformat=fmt),
        server.url("getSubAccounts", returnformat=fmt),
    ]
    for url in urls:
        with subtests.test(url=url):
            assert echoed(open_in_browser(browser, url)), url


def test_get_pulls(browser: Any, server: Server) -> None:
    """getPulls hands each reply out once: the browser is the one that reads it."""
    assert echoed(open_in_browser(browser, server.url("getPulls")))


def test_the_set_password_page_keeps_its_styles(browser: Any, server: Server) -> None:
    """The page is on the customer area's layout: its stylesheet applies under its policy
    (`default-src 'self'`, no inline style), and nothing breaks that policy."""
    page = browser.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    try:
        response = page.goto(f"{server.base}/account/set-password?token={quote(PAYLOAD)}")
        assert response is not None and response.status == 400
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "unsafe-inline" not in policy
        max_width = page.evaluate("getComputedStyle(document.querySelector('main')).maxWidth")
    finally:
        page.close()
    violations = [line for line in console if "Content Security Policy" in line]
    assert (max_width, violations) == ("448px", [])


def _sms_id(server: Server) -> str:
    with httpx.Client(timeout=10) as http:
        acks = api(http, server, "getAcks", campId=server.campaign)["acks"]
    return str(acks[0]["smsId"])


def test_the_test_sees_script_that_runs(browser: Any) -> None:
    """The same payload, as raw markup, is caught: the checks above can fail."""

    def load(page: Any) -> bytes:
        page.set_content(PAYLOAD)
        return PAYLOAD.encode()

    with pytest.raises(AssertionError, match="script ran"):
        watch(browser, load)
