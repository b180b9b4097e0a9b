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
