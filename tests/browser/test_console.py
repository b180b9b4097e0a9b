"""The API console in a real browser against a real `hirondelle serve` (simulator): the samples
are redrawn by our script as the form changes, exactly as the server draws them; a getInfo and
a sendSms are sent and their answers shown; no Content-Security-Policy violation."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import signed_in_page

LOGIN = "dora"
PASSWORD = "dora-secret-77"
CREDITS = 500


def test_the_console_sends_get_info_and_send_sms(browser: Any, base: str) -> None:
    with signed_in_page(browser, base, LOGIN, PASSWORD) as page:
        page.wait_for_selector("#credits")
        page.goto(f"{base}/account/console")
        page.click("#send")
        page.wait_for_selector("#answer-body")
        assert '"credits": 500' in page.text_content("#answer-body")

        page.select_option("#method", "sendSms")
        page.click("#choose button")
        page.wait_for_selector("#f-smsData")
        drawn_by_server = page.text_content("#curl")
        feed = '{"DATA": {"MESSAGE": "Hi it\'s me", "SMS": [{"MOBILEPHONE": "0611111111"}]}}'
        page.fill("#f-smsData", feed)
        drawn_by_script = page.text_content("#curl")
        assert "it'\"'\"'s me" in drawn_by_script and drawn_by_script != drawn_by_server
        python_by_script = page.text_content("#python")
        page.click("#send")
        page.wait_for_selector("#answer-body")
        # The server draws the same samples for the values it sent.
        assert page.text_content("#curl") == drawn_by_script
        assert page.text_content("#python") == python_by_script
        assert '"status": 100' in page.text_content("#answer-body")
        assert "The message has been sent" in page.text_content("#explained")
