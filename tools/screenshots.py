"""`make screenshots`: pictures of every page of the customer and operators' areas, in English
and French, for docs/screenshots/ (and the README).

It starts a real `hirondelle serve` on a store in a temporary folder (the built-in SMSC
simulator), makes a demo account with a password, a few campaigns and replies, an operator,
then signs in with Playwright driving Debian's Chromium (/usr/bin/chromium, or $CHROMIUM) and
writes `<name>-<lang>.png` at 1280×800. A page that answers 404 (not built on this branch yet)
is skipped with a warning. Add a page: one line in PAGES.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
LANGS = {"en": "en-GB", "fr": "fr-FR"}
LOGIN, PASSWORD = "boutique", "boutique-password-1"
ADMIN, ADMIN_PASSWORD = "operator", "operator-password-1"

#: (file name, path): the customer's pages, signed in as the demo account.
PAGES = [
    ("dashboard", "/account/"),
    ("send", "/account/send"),
    ("campaigns", "/account/campaigns"),
    ("replies", "/account/replies"),
    ("blacklist", "/account/blacklist"),
    ("lists", "/account/lists"),
    ("statement", "/account/statement"),
    ("api", "/account/api"),
    ("sub-accounts", "/account/sub-accounts"),
    ("console", "/account/console?method=sendSms"),
]
#: The operators' pages, signed in as the operator.
ADMIN_PAGES = [
    ("admin-accounts", "/admin/"),
    ("admin-connectors", "/admin/connectors"),
    ("admin-outboxes", "/admin/outboxes"),
]
#: Signed out.
PUBLIC_PAGES = [
    ("front", "/"),
    ("sign-in", "/account/"),
    ("forgot-password", "/account/forgot-password"),
]


def hirondelle(home: Path, *args: str) -> str:
    """Run one `hirondelle` command against the store in `home`; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "hirondelle.cli", *args],
        cwd=home, env=environment(home), capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"hirondelle {args[0]} {args[1]} failed: {done.stderr.strip()}")
    return done.stdout


def environment(home: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HIRONDELLE_")}
    return {
        **clean,
        "PYTHONUNBUFFERED": "1",
        "HIRONDELLE_DATABASE_URL": f"sqlite:///{home}/var/serve.db",
        "HIRONDELLE_VAR_DIR": str(home / "var"),
        "HIRONDELLE_SIMULATOR_RECEIPT_DELAY": "0.2",
    }


@contextmanager
def served(home: Path) -> Iterator[str]:
    """`hirondelle serve --port 0` in `home`; yields its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "hirondelle.cli", "serve", "--port", "0"],
        cwd=home, env=environment(home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        while True:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            found = re.search(r"curl '(https?://[^/']+)/", line)
            if found:
                yield found.group(1)
                break
    finally:
        process.terminate()
        process.wait(timeout=20)


def until(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.2)
    raise SystemExit("the demo data did not settle in time")


def demo_data(home: Path, base: str) -> None:
    """An account with a password and credits, three campaigns (delivered by the simulator),
    replies (one STOP), an operator."""
    created = hirondelle(
        home, "accounts", "create", LOGIN, "--password", PASSWORD, "--credits", "20000", "--json"
    )
    key = json.loads(created)["apiKey"]
    hirondelle(home, "admins", "create", ADMIN, "--password", ADMIN_PASSWORD)
    numbers = [f"06{n:08d}" for n in range(11111111, 11111111 + 40, 3)]
    campaigns = []
    with httpx.Client(base_url=base, timeout=30) as http:
        for name, text, size in [
            ("Soldes d'été", "Soldes : -30 % ce week-end ! STOP au 36180", 12),
            ("Rappel RDV", "Rappel : votre rendez-vous demain à 10h. STOP au 36180", 5),
            ("Livraison", "Votre colis arrive aujourd'hui. STOP au 36180", 8),
        ]:
            sms = [{"MOBILEPHONE": number} for number in numbers[:size]]
            feed = {"DATA": {"MESSAGE": text, "CAMPAIGN_NAME": name, "SMS": sms}}
            data = {"login": LOGIN, "apiKey": key, "smsData": json.dumps(feed)}
            campaigns.append(http.post("/http/9.0/sendSms", data=data).json()["campaignId"])

        def delivered() -> bool:
            for campaign in campaigns:
                params = {"login": LOGIN, "apiKey": key, "campId": campaign}
                acks = http.post("/http/9.0/getAcks", data=params).json().get("acks", [])
                if not acks or any(str(ack["status"]) != "1" for ack in acks):
                    return False
            return True

        until(delivered)
        for sender, text in [(numbers[0], "Merci, à samedi !"), (numbers[1], "STOP")]:
            http.post("/_sim/mo", json={"from": "33" + sender[1:], "text": text})


def shoot(browser: Any, base: str, lang: str) -> None:
    context = browser.new_context(locale=LANGS[lang], viewport=VIEWPORT)
    page = context.new_page()
    for name, path in PUBLIC_PAGES:
        take(page, base, path, f"{name}-{lang}")
    sign_in(page, base, "/account/", LOGIN, PASSWORD)
    for name, path in PAGES:
        take(page, base, path, f"{name}-{lang}")
    sign_in(page, base, "/admin/", ADMIN, ADMIN_PASSWORD)
    for name, path in ADMIN_PAGES:
        take(page, base, path, f"{name}-{lang}")
    context.close()


def sign_in(page: Any, base: str, path: str, login: str, password: str) -> None:
    page.goto(base + path)
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def take(page: Any, base: str, path: str, name: str) -> None:
    response = page.goto(base + path)
    if response is None or response.status == 404:
        print(f"warning: {path} answers 404 here; {name}.png skipped", file=sys.stderr)
        return
    page.screenshot(path=str(OUT / f"{name}.png"))
    print(f"{name}.png")


def main() -> None:
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder, served(Path(folder)) as base:
        demo_data(Path(folder), base)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium)
            for lang in LANGS:
                shoot(browser, base, lang)
            browser.close()


if __name__ == "__main__":
    main()
