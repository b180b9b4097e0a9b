"""In a real browser, `/api/docs` renders the REST API with the vendored Swagger UI: the viewer
shows the operations of `/openapi.json`, and nothing breaks the page's policy (`default-src
'self'`) or writes an error to the console. `/api/docs/v9` loads its stylesheet the same way.

Chromium missing skips these tests (fails them in CI), as in test_no_script.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.test_no_script import Server, chromium, serving


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    chromium()
    with serving(tmp_path_factory.mktemp("serve")) as started:
        yield started


class Watched:
    """A page whose console errors, CSP violations and failed requests are recorded."""

    def __init__(self, browser: Any) -> None:
        self.page = browser.new_page()
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("requestfailed", lambda request: self.problems.append(f"lost: {request.url}"))
        self.page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning") or "Content Security Policy" in message.text:
            self.problems.append(f"console {message.type}: {message.text}")

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.problems.append(f"{response.status}: {response.url}")

    def violations(self) -> list[str]:
        """The CSP violations the page saw (securitypolicyviolation events)."""
        found: list[str] = self.page.evaluate("window.__violations || []")
        return found


VIOLATIONS_LISTENER = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
  (event) => window.__violations.push(event.violatedDirective + " " + event.blockedURI));
"""


def test_the_viewer_renders_the_rest_api_without_violations(browser: Any, server: Server) -> None:
    watched = Watched(browser)
    watched.page.add_init_script(VIOLATIONS_LISTENER)
    try:
        response = watched.page.goto(f"{server.base}/api/docs")
        assert response is not None and response.status == 200
        operation = watched.page.locator(".opblock-summary-path", has_text="/sms/send/").first
        operation.wait_for(state="visible", timeout=30_000)
        title = watched.page.locator(".info .title").inner_text()
        violations = watched.violations()
    finally:
        watched.page.close()
    assert "Hirondelle REST API" in title
    assert (violations, watched.problems) == ([], [])


def test_try_it_out_calls_the_api_with_the_credentials_given(browser: Any, server: Server) -> None:
    """Authorize (Basic), then GET /account from the viewer: the call goes to this origin."""
    watched = Watched(browser)
    watched.page.add_init_script(VIOLATIONS_LISTENER)
    page = watched.page
    try:
        page.goto(f"{server.base}/api/docs")
        page.locator(".auth-wrapper .authorize").click()
        dialog = page.locator(".dialog-ux .modal-ux")
        dialog.locator("input[type=text]").fill(server.login)
        dialog.locator("input[type=password]").fill(server.api_key)
        dialog.locator("button.authorize").click()
        dialog.locator("button.btn-done").click()
        page.locator(".opblock-summary", has_text="/account").first.click()
        block = page.locator(".opblock.is-open").first
        block.locator("button.try-out__btn").click()
        with page.expect_response(lambda answer: answer.url.endswith("/account")) as called:
            block.locator("button.execute").click()
        answer = called.value
        body = answer.json()
        status = block.locator(".live-responses-table tr.response .response-col_status").first
        status.wait_for()
        shown = status.inner_text()
        violations = watched.violations()
    finally:
        page.close()
    assert answer.url == f"{server.base}/account"
    assert (answer.status, body["description"]) == (200, "Active account")
    assert shown.strip() == "200"
    assert (violations, watched.problems) == ([], [])


def test_the_v9_reference_applies_its_stylesheet(browser: Any, server: Server) -> None:
    watched = Watched(browser)
    watched.page.add_init_script(VIOLATIONS_LISTENER)
    try:
        response = watched.page.goto(f"{server.base}/api/docs/v9#getAcks")
        assert response is not None and response.status == 200
        watched.page.locator("#sendSms").wait_for()
        width = watched.page.evaluate(
            "getComputedStyle(document.querySelector('.apidocs-v9')).maxWidth"
        )
        violations = watched.violations()
    finally:
        watched.page.close()
    assert (width, violations, watched.problems) == ("960px", [], [])


def test_the_watch_sees_a_violation(browser: Any, server: Server) -> None:
    """An inline script on a page with the same policy is reported: the checks above can fail."""
    watched = Watched(browser)
    watched.page.add_init_script(VIOLATIONS_LISTENER)
    try:
        watched.page.goto(f"{server.base}/api/docs")
        watched.page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'console.log(1)'; document.body.appendChild(s); }"
        )
        watched.page.wait_for_function("window.__violations.length > 0")
        violations = watched.violations()
    finally:
        watched.page.close()
    assert any("script-src" in v for v in violations), violations
    assert any("Content Security Policy" in p for p in watched.problems), watched.problems
