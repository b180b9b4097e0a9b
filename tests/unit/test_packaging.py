"""Packaging: what `make run` / `make test` install, the licence, the version, the unit files."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

import hirondelle

ROOT = Path(__file__).resolve().parents[2]


def make_plan(target: str, venv: Path) -> str:
    """The commands `make TARGET` would run with a fresh virtual environment (`make -n`)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    done = subprocess.run(
        ["make", "-n", "-C", str(ROOT), target, f"VENV={venv}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout


def test_make_run_installs_the_runtime_dependencies_only(tmp_path: Path) -> None:
    plan = make_plan("run", tmp_path / "venv")
    installs = [line for line in plan.splitlines() if "pip install" in line and "-e" in line]
    assert installs, plan
    assert not any("[" in line for line in installs), installs  # no extra: `.`, not `.[test]`
    assert "serve" in plan
    assert "activate" in plan  # says how to put `hirondelle` on the PATH


def test_make_test_adds_the_test_tools(tmp_path: Path) -> None:
    plan = make_plan("test", tmp_path / "venv")
    assert "'.[test,dev]'" in plan
    assert "pytest" in plan


def test_the_readme_says_how_to_call_install_and_run_for_production() -> None:
    readme = (ROOT / "README.md").read_text()
    for needed in (
        ". .venv/bin/activate",  # how to call `hirondelle` after `make run`
        ".venv/bin/hirondelle",
        "demo_account = false",  # production
        "pipx install",  # install paths
        "pip install",
        "hirondelle serve",
        "deploy/systemd",
    ):
        assert needed in readme, needed


# -- licence, metadata, version ------------------------------------------------------------------


def pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def test_the_licence_is_apache_2() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text  # the whole text, not a pointer to it
    project = pyproject()["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]


def test_the_metadata_is_complete() -> None:
    project = pyproject()["project"]
    for field in ("description", "readme", "requires-python", "classifiers", "urls", "keywords"):
        assert project.get(field), field
    assert project["requires-python"] == ">=3.11"
    assert "Programming Language :: Python :: 3.11" in project["classifiers"]
    for url in project["urls"].values():  # no address invented for a repository not yet public
        assert not url.startswith(("http://", "https://")) or "example" not in url


def changelog_version() -> str:
    """The version of the changelog's first section ("Unreleased" when it has none yet)."""
    text = (ROOT / "docs" / "changelog.md").read_text()
    heading = next(line for line in text.splitlines() if line.startswith("## "))
    found = re.search(r"\d+\.\d+\.\d+\S*", heading)
    return found.group(0) if found else heading.removeprefix("## ").strip()


def test_the_version_is_the_same_everywhere() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hirondelle.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    version = pyproject()["project"]["version"]
    assert done.stdout.strip() == version == hirondelle.__version__
    assert changelog_version() in (version, "Unreleased")


def test_every_data_file_of_the_package_is_shipped() -> None:
    """Each file the package holds besides Python code is matched by [tool.setuptools.package-data]
    (the wheel test proves it on a built wheel; this says which file is missing, fast)."""
    package = ROOT / "src" / "hirondelle"
    patterns = pyproject()["tool"]["setuptools"]["package-data"]["hirondelle"]
    shipped = {path for pattern in patterns for path in package.glob(pattern) if path.is_file()}
    data = {
        path
        for path in package.rglob("*")
        if path.is_file() and path.suffix not in {".py", ".pyc"} and "__pycache__" not in path.parts
    }
    assert data, "the package has data files (templates, prices, migrations)"
    assert sorted(str(p.relative_to(package)) for p in data - shipped) == []


# -- the systemd unit ----------------------------------------------------------------------------

UNIT = ROOT / "deploy" / "systemd" / "hirondelle.service"


def unit_for_this_machine(tmp_path: Path) -> Path:
    """The unit with its ExecStart pointed at this Python (`verify` wants the program to exist)."""
    text = UNIT.read_text()
    assert "ExecStart=/opt/hirondelle/bin/hirondelle serve" in text
    local = tmp_path / UNIT.name
    local.write_text(
        text.replace("/opt/hirondelle/bin/hirondelle", f"{sys.executable} -m hirondelle.cli")
    )
    return local


def test_the_unit_is_hardened() -> None:
    lines = set(UNIT.read_text().splitlines())
    for needed in (
        "User=hirondelle",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "StateDirectory=hirondelle",
        "EnvironmentFile=/etc/hirondelle/hirondelle.env",
        "ExecStart=/opt/hirondelle/bin/hirondelle serve",
        "CapabilityBoundingSet=",
        "UMask=0077",
    ):
        assert needed in lines, needed
    sysusers = (UNIT.parent / "hirondelle.sysusers.conf").read_text()
    assert "u hirondelle " in sysusers


def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit_for_this_machine(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")
    security = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(unit_for_this_machine(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    level = re.search(r"Overall exposure level for \S+: ([\d.]+)", security.stdout)
    if security.returncode != 0 and level is None:
        pytest.skip(f"systemd-analyze security --offline is not supported: {security.stderr}")
    assert level is not None and float(level.group(1)) <= 2.0, security.stdout[-2000:]


def test_operations_guide_shows_how_to_install_the_unit() -> None:
    guide = (ROOT / "docs" / "operations.md").read_text()
    for needed in (
        "deploy/systemd/hirondelle.service",
        "systemd-sysusers",
        "/etc/hirondelle/hirondelle.env",
        "systemctl enable --now hirondelle",
    ):
        assert needed in guide, needed
