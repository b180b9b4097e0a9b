"""The customer area in a real browser: a real `hirondelle serve`, an account created with
`hirondelle accounts create --password`, Debian's Chromium driven by Playwright. From the front
door, the visitor signs in through the form, sees the dashboard with our stylesheet applied, and
signs out; no page breaks its Content-Security-Policy (no inline script or style anywhere).

Chromium missing skips (or, in CI, fails) as in tests/browser/test_no_script.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.site import served

LOGIN = "carol"
PASSWORD = "carol-secret-7"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(tmp_path_factory, LOGIN, PASSWORD, credits=750) as url:
        yield url


def test_sign_in_through_the_form_see_the_dashboard_and_sign_out(browser: Any, base: str) -> None:
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    try:
        page.goto(f"{base}/")
        assert page.locator("main a[href='/api/docs']").count() == 1
        page.click("a.button[href='/account/']")
        page.wait_for_url(f"{base}/account/")
        page.fill("#login", LOGIN)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#credits")
        assert page.text_content("#credits") == "750"
        assert page.text_content("h1") == "Dashboard"
        # The stylesheet loaded under default-src 'self': the figures are laid out as a grid.
        assert page.evaluate("getComputedStyle(document.querySelector('.figures')).display") == (
            "grid"
        )
        cookies = {cookie["name"]: cookie for cookie in context.cookies()}
        assert cookies["hir_session"]["httpOnly"] and cookies["hir_session"]["sameSite"] == "Lax"
        page.click("text=Sign out")
        page.wait_for_url(f"{base}/")
        page.goto(f"{base}/account/")
        assert page.is_visible("#password")  # the session is gone
    finally:
        context.close()
    violations = [line for line in console if "Content Security Policy" in line]
    assert violations == [] and console == []


def test_the_pages_speak_french(browser: Any, base: str) -> None:
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    try:
        page.goto(f"{base}/account/")
        assert page.text_content("h1") == "Se connecter"
        assert page.get_attribute("html", "lang") == "fr"
        page.click("a[hreflang=en]")
        page.wait_for_url(f"{base}/account/")
        assert page.text_content("h1") == "Sign in"
    finally:
        context.close()


def test_the_console_catches_a_policy_violation(browser: Any, base: str) -> None:
    """The check above can fail: an inline style on one of our pages is reported."""
    page = browser.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    try:
        page.goto(f"{base}/")
        page.evaluate(
            "document.body.insertAdjacentHTML('beforeend', '<p style=\"color:red\">x</p>')"
        )
        page.wait_for_function("1", timeout=2000)
    finally:
        page.close()
    assert any("Content Security Policy" in line for line in console), console


def test_usable_on_a_phone_with_a_visible_focus(browser: Any, base: str) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = context.new_page()
    try:
        for path in ("/", "/account/"):
            page.goto(f"{base}{path}")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, f"{path} scrolls sideways on a phone ({width}px)"
        page.focus("#login")
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "password"
        assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
        assert outline in ("solid", "auto")
    finally:
        context.close()
