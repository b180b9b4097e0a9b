"""`hirondelle purge`: delete what is older than the retention, in small batches."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Annotated

import typer

from hirondelle.cli.options import ConfigOption, DatabaseOption, JsonOption, run, settings_from
from hirondelle.context import Context
from hirondelle.services import retention
from hirondelle.services.retention import PurgeReport

#: Seconds between two progress lines.
PROGRESS_EVERY = 2.0


def purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing.")
    ] = False,
    days: Annotated[
        int | None,
        typer.Option(min=1, help="Keep this many days instead of the retention_days setting."),
    ] = None,
    batch: Annotated[
        int, typer.Option(min=1, max=5000, help="Messages per transaction.")
    ] = retention.BATCH,
    json_output: JsonOption = False,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Delete messages older than `retention_days` (400 by default), with their status history,
    SMPP parts and replies, a small batch per transaction: safe to run while the platform sends,
    e.g. daily from a systemd timer. Messages still waiting to be sent are kept; campaigns stay,
    with the counts of their deleted messages."""
    overrides: dict[str, object] = {"database_url": database}
    if days is not None:
        overrides["retention_days"] = days
    settings = settings_from(config, **overrides)
    started = time.monotonic()
    last = [started]

    def progress(report: PurgeReport) -> None:
        now = time.monotonic()
        if not json_output and now - last[0] >= PROGRESS_EVERY:
            last[0] = now
            typer.echo(f"… {_counts(report)}", err=True)

    async def act(ctx: Context) -> PurgeReport:
        return await retention.purge(ctx, dry_run=dry_run, batch=batch, progress=progress)

    report: PurgeReport = run(act, settings)
    seconds = time.monotonic() - started
    if json_output:
        figures = asdict(report) | {"before": report.before.isoformat(), "seconds": seconds}
        typer.echo(json.dumps(figures))
        return
    verb = "Would delete" if dry_run else "Deleted"
    typer.echo(
        f"{verb}, created before {report.before:%Y-%m-%d %H:%M} UTC: {_counts(report)}"
        f" ({report.batches} batches, {seconds:.1f} s)"
    )


def _counts(report: PurgeReport) -> str:
    return (
        f"{report.messages} messages, {report.events} status events,"
        f" {report.parts} SMPP parts, {report.replies} replies"
    )
