"""Send from the web in a real browser, against a real `hirondelle serve` and its in-process SMSC
simulator: a 1,000-row CSV with a merge field is previewed, confirmed, and its campaign reaches
"delivered" (the campaign page's counts refresh through htmx); the list shows it; the CSV export
downloads its messages; the dashboard draws its chart. No Content-Security-Policy violation.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

LOGIN, PASSWORD = "dora", "dora-secret-12"
CREDITS = 100_000  # the site of tests/browser/conftest.py's `base` fixture
ROWS = 1000


def contacts_csv() -> bytes:
    # 0612001001…0612002000: no ending the simulator fails (0000, 8888, 9999, 7777)
    lines = ["prenom;mobile"] + [f"Client{n};06{n + 12_001_001:08d}" for n in range(ROWS)]
    return ("\n".join(lines) + "\n").encode()


def test_send_a_csv_see_it_delivered_and_export_it(browser: Any, base: str, tmp_path: Path) -> None:
    context = browser.new_context(locale="en-GB", accept_downloads=True)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    try:
        page.goto(f"{base}/account/")
        page.fill("#login", LOGIN)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#credits")

        page.goto(f"{base}/account/send")
        page.fill("#message", "Bonjour #prenom#")
        assert "GSM 7-bit" in (page.text_content("#counter") or "")  # send.js ran
        page.fill("#name", "Browser CSV")
        page.set_input_files(
            "#file", {"name": "c.csv", "mimeType": "text/csv", "buffer": contacts_csv()}
        )
        page.click("#send-form button[type=submit]")
        page.wait_for_selector("#preview-contacts")
        assert page.text_content("#preview-contacts") == "1,000"
        assert "Bonjour Client0" in (page.text_content("#preview-messages") or "")
        page.click("#confirm")
        page.wait_for_selector("#campaign-counts")
        # The counts come back through htmx every few seconds until nothing is pending.
        # (A selector, not wait_for_function: the page's policy forbids evaluating strings.)
        page.wait_for_selector("#count-delivered:text-is('1,000')", timeout=120_000)
        assert page.locator("#campaign-chart .uplot").count() == 1

        with page.expect_download() as download:
            page.click("a[href$='.csv']")
        saved = tmp_path / "export.csv"
        download.value.save_as(saved)
        rows = list(csv.DictReader(io.StringIO(saved.read_text())))
        assert len(rows) == ROWS
        assert {row["statusText"] for row in rows} == {"Delivered"}
        assert "Bonjour Client999" in {row["message"] for row in rows}

        page.goto(f"{base}/account/campaigns")
        line = page.locator("#campaigns tbody tr", has_text="Browser CSV")
        assert line.locator("td.delivered").text_content() == "1,000"

        page.goto(f"{base}/account/")
        assert page.text_content("#period-1 td:nth-child(3)") == "1,000"
        page.wait_for_selector("#daily-chart .uplot")
    finally:
        context.close()
    violations = [line for line in console if "Content Security Policy" in line]
    assert violations == [], violations
