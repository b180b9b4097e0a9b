"""A real `hirondelle serve` for the browser tests, with one account that signs in with a
password (`hirondelle accounts create --password`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest

from tests.browser.test_no_script import chromium
from tests.processes import Running
from tests.unit.test_server import CURL


@contextmanager
def served(
    tmp_path_factory: pytest.TempPathFactory, login: str, password: str, credits: int
) -> Iterator[str]:
    """The base URL of a server on SQLite in a fresh folder (Chromium missing skips first)."""
    chromium()
    home = tmp_path_factory.mktemp("site")
    env = {
        "HIRONDELLE_DATABASE_URL": f"sqlite:///{home}/var/serve.db",
        "HIRONDELLE_VAR_DIR": str(home / "var"),
    }
    with Running(["serve", "--port", "0"], cwd=home, env=env) as running:
        url = urlsplit(running.expect(CURL.pattern)["url"])
        args = ["accounts", "create", login, "--password", password, "--credits", str(credits)]
        code, lines = Running(args, cwd=home, env=env).finish()
        assert code == 0, lines
        yield f"{url.scheme}://{url.netloc}"
        running.terminate()
