"""The operators' area in a real browser against a real `hirondelle serve`: an administrator
made with `hirondelle admins create` signs in at /admin/, finds the customer account, tops it
up, sees the simulator's connector bound; the customer's session does not open /admin/; no
Content-Security-Policy violation."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import signed_in_page

LOGIN = "erin"
PASSWORD = "erin-secret-77"
CREDITS = 40
EXTRA = ("admins create ops --password ops-secret-77",)


def test_an_operator_tops_up_an_account_and_sees_the_connector(browser: Any, base: str) -> None:
    with signed_in_page(browser, base, "ops", "ops-secret-77", path="/admin/") as page:
        page.fill("#q", LOGIN)
        page.click("form[role=search] button")
        page.fill("#credits-1", "60")
        page.click("form[action='/admin/accounts/topup'] button")
        page.wait_for_selector("#outcome")
        assert "100" in page.text_content("#outcome")
        page.goto(f"{base}/admin/connectors")
        assert "simulator" in page.text_content("#connectors")


def test_a_customer_session_does_not_open_admin(browser: Any, base: str) -> None:
    with signed_in_page(browser, base, LOGIN, PASSWORD) as page:
        page.wait_for_selector("#credits")
        page.goto(f"{base}/admin/")
        assert page.is_visible("#password")  # the operators' sign-in form
        assert page.locator("#connectors").count() == 0
