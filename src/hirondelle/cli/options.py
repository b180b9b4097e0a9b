"""What every `hirondelle` command shares: its options, its settings, its one-line errors."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, NoReturn

import typer

from hirondelle.config import ConfigError, Settings, load_settings
from hirondelle.context import open_context
from hirondelle.services import accounts
from hirondelle.store.engine import StoreUnavailable

ConfigOption = Annotated[
    str | None,
    typer.Option("--config", help="TOML configuration file (default ./hirondelle.toml)."),
]
DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database", help="Store URL, e.g. sqlite:///var/hirondelle.db or postgresql://…"
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def fail(message: str, code: int = 1) -> NoReturn:
    """Stop with one line on stderr: what is wrong and, where it helps, what to do."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


def settings_from(config: str | None, **overrides: Any) -> Settings:
    """Settings from the file, the environment and the command's options; exit 2 if invalid."""
    try:
        return load_settings(config, **overrides)
    except ConfigError as exc:
        fail(f"invalid configuration: {exc}", 2)


def run(coro_fn: Any, settings: Settings) -> Any:
    """Run `coro_fn(ctx)` in a fresh context; an account or store error exits with one line."""

    async def main() -> Any:
        ctx = open_context(settings)
        try:
            return await coro_fn(ctx)
        finally:
            ctx.close()

    try:
        return asyncio.run(main())
    except (accounts.AccountError, StoreUnavailable) as exc:
        fail(str(exc))
