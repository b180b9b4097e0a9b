"""The browser the tests of this folder share: Debian's Chromium driven by Playwright, one per
module, launched after the module's server (so a missing Chromium skips before anything starts)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.test_no_script import chromium
from tests.processes import Running
from tests.unit.test_server import CURL


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path)
        yield launched
        launched.close()


@contextmanager
def serve_with_account(
    home: Path, login: str, password: str, credits: int, *extra: str
) -> Iterator[str]:
    """A real `hirondelle serve` (simulator, SQLite under `home`) with an account made by
    `hirondelle accounts create --password`; yields the base URL. `extra`: more CLI commands
    to run once it is up, each a space-separated string (e.g. "admins create root ...")."""
    env = {
        "HIRONDELLE_DATABASE_URL": f"sqlite:///{home}/var/serve.db",
        "HIRONDELLE_VAR_DIR": str(home / "var"),
    }
    with Running(["serve", "--port", "0"], cwd=home, env=env) as running:
        url = urlsplit(running.expect(CURL.pattern)["url"])
        create = ["accounts", "create", login, "--password", password, "--credits", str(credits)]
        for args in [create, *(command.split() for command in extra)]:
            code, lines = Running(args, cwd=home, env=env).finish()
            assert code == 0, lines
        yield f"{url.scheme}://{url.netloc}"
        running.terminate()


@pytest.fixture(scope="module")
def base(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A served site with the account the test module names in LOGIN, PASSWORD and CREDITS
    (and the CLI commands of its EXTRA, if any)."""
    chromium()
    module = request.module
    home = tmp_path_factory.mktemp(module.__name__.rpartition(".")[2])
    extra = getattr(module, "EXTRA", ())
    with serve_with_account(home, module.LOGIN, module.PASSWORD, module.CREDITS, *extra) as url:
        yield url


@contextmanager
def signed_in_page(
    browser: Any, base: str, login: str, password: str, path: str = "/account/"
) -> Iterator[Any]:
    """A page signed in through the form at `path` (English), watched as `watched_page` does."""
    with watched_page(browser) as page:
        page.goto(f"{base}{path}")
        page.fill("#login", login)
        page.fill("#password", password)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        yield page


@contextmanager
def watched_page(browser: Any, locale: str = "en-GB") -> Iterator[Any]:
    """A page in a new browser context; on leaving, asserts the browser's console stayed empty
    (no Content-Security-Policy violation, no script error)."""
    context = browser.new_context(locale=locale)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    try:
        yield page
    finally:
        context.close()
    assert console == [], console
