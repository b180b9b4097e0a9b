"""Docs stay in step with the code: every setting documented, the CLI reference current."""

from __future__ import annotations

from pathlib import Path

import pytest

from hirondelle.config import SETTINGS, Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_documented(setting: object) -> None:
    text = (DOCS / "settings.md").read_text()
    assert f"`{setting.name}`" in text  # type: ignore[attr-defined]
    assert f"`{setting.env}`" in text  # type: ignore[attr-defined]


def test_settings_table_matches_the_model() -> None:
    fields = set(Settings.model_fields) - {"connectors"}
    assert {s.name for s in SETTINGS} == fields
    defaults = Settings.model_construct()
    for setting in SETTINGS:
        assert getattr(defaults, setting.name) == setting.default, setting.name


def test_cli_reference_is_current() -> None:
    from cogapp import Cog

    status = Cog().main(["cog", "--check", str(DOCS / "cli.md")])
    assert status == 0, "docs/cli.md is stale: run `make docs`"


# -- the code examples --------------------------------------------------------------------------

ROOT = DOCS.parent


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """(first line number, code) of each ```python block of a Markdown file."""
    blocks: list[tuple[int, str]] = []
    lines = path.read_text().splitlines()
    start: int | None = None
    for number, line in enumerate(lines, 1):
        if start is None and line.strip() == "```python":
            start = number
        elif start is not None and line.strip() == "```":
            blocks.append((start + 1, "\n".join(lines[start : number - 1]) + "\n"))
            start = None
    return blocks


@pytest.mark.parametrize(
    "path", [*sorted(DOCS.glob("*.md")), ROOT / "README.md"], ids=lambda p: p.name
)
def test_every_python_example_compiles(path: Path) -> None:
    for line, code in python_blocks(path):
        compile(code, f"{path.name}:{line}", "exec")


def test_the_api_v9_python_examples_run_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/api-v9.md's Python examples, in order, against a live `hirondelle serve`: only the
    base URL is changed and the API key is given in `KEY`, as the page says."""
    from tests.processes import Running

    env = {
        "HIRONDELLE_DATABASE_URL": f"sqlite:///{tmp_path}/var/docs.db",
        "HIRONDELLE_VAR_DIR": str(tmp_path / "var"),
        "HIRONDELLE_WORKERS": "false",
    }
    with Running(["serve", "--port", "0"], cwd=tmp_path, env=env) as server:
        base, key = server.welcome()
        monkeypatch.setenv("KEY", key)
        namespace: dict[str, object] = {}
        blocks = python_blocks(DOCS / "api-v9.md")
        assert len(blocks) >= 8
        for line, code in blocks:
            code = code.replace("http://localhost:8080", base)
            exec(compile(code, f"api-v9.md:{line}", "exec"), namespace)
        assert server.terminate() == 0
    info = namespace["info"]
    assert isinstance(info, dict) and info["credits"] > 0
    assert namespace["price"] == 15
