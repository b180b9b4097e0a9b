"""The wheel runs anywhere: built from the sources, installed into a fresh virtual environment
outside the repository, started from an empty folder — it sends an SMS, gets its delivery report,
emails a sub-account its set-password link and serves that page. A file missing from the
package (a template, the price table, a migration) fails here.

Dependencies come from the package index pip is configured with (its cache keeps reruns fast).
"""

from __future__ import annotations

import mailbox
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.processes import Running
from tests.unit.test_packaging import changelog_version

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "hirondelle"
VERSION: str = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
#: Not needed to build: the sdist takes src/, pyproject.toml, README.md and LICENSE.
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "var", "dist", "build", "node_modules", "__pycache__", "*.egg-info",
    ".*_cache", ".hypothesis", "tests", "bench", "docs", "deploy",
)  # fmt: skip

pytestmark = pytest.mark.slow


#: The environment of the installed program: nothing of this checkout or of the test settings.
CLEAN_ENV = {
    k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("HIRONDELLE_")
}


def run(*args: str | Path, cwd: Path | None = None, timeout: float = 600) -> str:
    started = time.monotonic()
    done = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=CLEAN_ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    print(f"{time.monotonic() - started:6.1f} s  {' '.join(map(str, args))[:120]}")
    assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def build(tmp: Path) -> tuple[Path, Path]:
    """(sdist, wheel) built by `python -m build` from a copy of the sources (the wheel is built
    from the sdist, so both are proved complete)."""
    tree = tmp / "sources"
    shutil.copytree(ROOT, tree, ignore=NOT_COPIED)
    run(sys.executable, "-m", "build", "--outdir", tmp / "dist", tree)
    (sdist,) = (tmp / "dist").glob("hirondelle-*.tar.gz")
    (wheel,) = (tmp / "dist").glob("hirondelle-*.whl")
    return sdist, wheel


def data_files() -> set[str]:
    return {
        str(path.relative_to(PACKAGE.parent))
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def wait_for(what: str, probe: Any, timeout: float = 60) -> Any:
    """Poll `probe()` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := probe():
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def api(http: httpx.Client, base: str, method: str, **params: str) -> Any:
    answer = http.post(f"{base}/http/9.0/{method}", data=params)
    assert answer.status_code == 200, answer.text
    return orjson.loads(answer.content)


def test_the_wheel_installs_and_runs_from_an_empty_folder(tmp_path: Path) -> None:
    sdist, wheel = build(tmp_path)
    assert sdist.name == f"hirondelle-{VERSION}.tar.gz"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert sorted(data_files() - names) == []  # every file of the package, code and data
    assert f"hirondelle-{VERSION}.dist-info/licenses/LICENSE" in names

    venv = tmp_path / "venv"  # outside the repository, without its sources on the path
    # Without pip of its own (ensurepip is slow): this pip installs into it (`--python`), and
    # knows PEP 639's License-Expression.
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    pip = [sys.executable, "-m", "pip", "--python", venv / "bin" / "python"]
    run(*pip, "install", "--quiet", "--no-compile", wheel)  # byte-compiling doubles the time
    shown = run(*pip, "show", "hirondelle")
    assert re.search(r"^License(-Expression)?: Apache-2\.0$", shown, re.M), shown
    version = run(venv / "bin" / "hirondelle", "--version").strip()
    assert version == VERSION
    assert changelog_version() in (version, "Unreleased")

    folder = tmp_path / "empty"
    folder.mkdir()
    where = run(venv / "bin" / "python", "-c", "import hirondelle; print(hirondelle.__file__)")
    assert where.startswith(str(venv)), where

    program = [str(venv / "bin" / "hirondelle")]
    with (
        Running(["serve", "--port", "0"], folder, program=program, unset=("PYTHONPATH",)) as server,
        httpx.Client(timeout=10) as http,
    ):
        base, key = server.welcome()
        creds = {"login": "demo", "apiKey": key}

        feed = orjson.dumps({"DATA": {"MESSAGE": "Hello", "SMS": [{"MOBILEPHONE": "0611111111"}]}})
        sent = api(http, base, "sendSms", **creds, smsData=feed.decode())
        assert sent["status"] == 100, sent

        def delivered() -> Any:
            acks = api(http, base, "getAcks", **creds, campId=sent["campaignId"])["acks"]
            return acks if acks[0]["status"] == "1" else None

        (ack,) = wait_for("the delivery report", delivered)
        assert ack["phoneNumber"] == "33611111111"

        front = http.get(base + "/", headers={"accept-language": "fr"})
        assert front.status_code == 200 and "Se connecter" in front.text  # template, locales
        assert http.get(base + "/static/hirondelle.css").status_code == 200
        assert 'name="csrf"' in http.get(base + "/account/").text
        refused = http.get(base + "/account/set-password")  # the template, without a token
        assert refused.status_code == 400 and "<html" in refused.text
        viewer = http.get(base + "/static/vendor/swagger-ui/swagger-ui-bundle.js")
        assert viewer.status_code == 200 and "SwaggerUIBundle" in viewer.text  # vendored, shipped
        assert "sendSms" in http.get(base + "/api/docs/v9").text

        sub = {
            "LOGIN": "thomas",
            "FIRSTNAME": "Thomas",
            "LASTNAME": "Dupont",
            "PASSWORD": "a-good-one",
            "EMAIL": "thomas@example.com",
            "SENDEMAILTOCUSTOMER": "1",
        }
        created = api(
            http,
            base,
            "createSubAccount",
            **creds,
            accountData=orjson.dumps({"DATA": sub}).decode(),
        )
        assert created["status"] == 1, created

        def link() -> str | None:
            box = folder / "var" / "mail"
            if not (box / "new").is_dir():
                return None
            texts = [str(message.get_payload(decode=True)) for message in mailbox.Maildir(box)]
            found = re.search(r"/account/set-password\?token=([\w-]+)", " ".join(texts))
            return found.group(1) if found else None

        token = wait_for("the welcome email in var/mail", link)
        form = http.get(base + "/account/set-password", params={"token": token})
        assert form.status_code == 200
        assert "<form" in form.text and "thomas" in form.text
        assert server.terminate() == 0
    assert (folder / "var" / "hirondelle.db").is_file()
