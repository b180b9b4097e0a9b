"""`hirondelle blacklist`, `hirondelle webhooks` and `hirondelle replies`: what comes back to an
account, by hand, and the replies that reached no account."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Annotated, Any, TypeVar

import typer

from hirondelle.cli.options import (
    ConfigOption,
    DatabaseOption,
    JsonOption,
    fail,
    run,
    settings_from,
)
from hirondelle.context import Context
from hirondelle.services import accounts, reports, webhooks
from hirondelle.services.accounts import Account

T = TypeVar("T")

blacklist_app = typer.Typer(
    help="Numbers an account never sends to: STOP replies, unknown numbers, additions by hand.",
    no_args_is_help=True,
)
webhooks_app = typer.Typer(
    help="Where an account's receipts and replies are pushed, and the secret that signs them.",
    no_args_is_help=True,
)

replies_app = typer.Typer(
    help="Replies for the operator: those that matched no account (docs/operations.md).",
    no_args_is_help=True,
)

Login = Annotated[str, typer.Argument(help="Login of the account.")]
Numbers = Annotated[list[str], typer.Argument(help="Phone numbers (06…, +336…, 336…).")]


def _for_account(
    login: str,
    action: Callable[[Context, Account], Awaitable[T]],
    config: str | None,
    database: str | None,
) -> T:
    """Run `action` for the account `login` in a fresh context; errors exit with status 1."""

    async def act(ctx: Context) -> T:
        account = await accounts.find_account(ctx, login)
        if account is None:
            raise accounts.AccountError(f"No account with login {login!r}")
        return await action(ctx, account)

    try:
        result: T = run(act, settings_from(config, database_url=database))
    except (reports.ReportError, webhooks.WebhookError) as exc:
        fail(str(exc))
    return result


def _report(change: reports.BlacklistChange, done: str, unchanged: str) -> None:
    for phone in change.changed:
        typer.echo(f"{phone}: {done}")
    for phone in change.unchanged:
        typer.echo(f"{phone}: {unchanged}")
    for number in change.invalid:
        typer.echo(f"{number}: not a valid mobile number", err=True)
    if change.invalid and not change.changed and not change.unchanged:
        raise typer.Exit(1)


@blacklist_app.command("add")
def blacklist_add(
    login: Login, numbers: Numbers, config: ConfigOption = None, database: DatabaseOption = None
) -> None:
    """Blacklist numbers by hand (comment `manual`)."""
    change = _for_account(
        login, lambda ctx, a: reports.add_to_blacklist(ctx, a, numbers), config, database
    )
    _report(change, "added", "already blacklisted")


@blacklist_app.command("remove")
def blacklist_remove(
    login: Login,
    numbers: Numbers,
    include_stop: Annotated[
        bool,
        typer.Option(
            "--include-stop",
            help="Also lift STOP opt-outs (only at the handset owner's request).",
        ),
    ] = False,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Take numbers off the blacklist (manual and refused entries; STOP with --include-stop)."""
    change = _for_account(
        login,
        lambda ctx, a: reports.remove_from_blacklist(ctx, a, numbers, include_stop=include_stop),
        config,
        database,
    )
    _report(change, "removed", "not removed (not listed, or a STOP)")


@blacklist_app.command("list")
def blacklist_list(
    login: Login,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """List an account's blacklist, most recent first."""
    entries = _for_account(login, reports.blacklist_of, config, database)
    if as_json:
        rows = [
            {"phoneNumber": e.phone_number, "comment": e.comment, "date": e.reception_date}
            for e in entries
        ]
        typer.echo(json.dumps(rows))
        return
    for entry in entries:
        typer.echo(f"{entry.phone_number:<16} {entry.comment:<8} {entry.reception_date}")
    typer.echo(f"{len(entries)} number(s)")


def _show(found: webhooks.WebhookSettings, as_json: bool) -> None:
    data: dict[str, Any] = asdict(found)
    if not found.new_secret:
        del data["new_secret"]
    if as_json:
        typer.echo(json.dumps(data))
        return
    for key, value in data.items():
        typer.echo(f"{key:>14}: {value}")


@webhooks_app.command("set")
def webhooks_set(
    login: Login,
    receipt_url: Annotated[
        str | None, typer.Option(help="URL receiving delivery receipts ('none' clears it).")
    ] = None,
    reply_url: Annotated[
        str | None, typer.Option(help="URL receiving replies ('none' clears it).")
    ] = None,
    secret: Annotated[
        str | None, typer.Option(help="Signing secret (16–128 characters), or 'generate'.")
    ] = None,
    events: Annotated[
        str | None,
        typer.Option(help="Receipts pushed: 'all' status changes (default) or 'final' only."),
    ] = None,
    batch: Annotated[
        int | None,
        typer.Option(help="Events per JSON POST, up to 500; 0: one GET per event (default)."),
    ] = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Set an account's webhook URLs and secret (a secret is generated when none is set)."""

    async def configure(ctx: Context, account: Account) -> webhooks.WebhookSettings:
        return await webhooks.configure(
            ctx,
            account.id,
            receipt_url=receipt_url,
            reply_url=reply_url,
            secret=secret,
            receipt_events=events,
            batch=batch,
        )

    _show(_for_account(login, configure, config, database), as_json)


@webhooks_app.command("show")
def webhooks_show(
    login: Login,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Show an account's webhook URLs (never its secret)."""
    found = _for_account(
        login, lambda ctx, a: webhooks.webhook_settings(ctx, a.id), config, database
    )
    _show(found, as_json)


@replies_app.command("unassigned")
def replies_unassigned(
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 100,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """List replies that matched no account: written to no account's number, and to no message
    of the reply window (dates in UTC)."""
    found = run(
        lambda ctx: reports.unassigned_replies(ctx, limit),
        settings_from(config, database_url=database),
    )
    if as_json:
        rows = [
            {
                "phoneNumber": r.phone_number,
                "to": r.to,
                "message": r.message,
                "receptionDate": r.reception_date,
            }
            for r in found
        ]
        typer.echo(json.dumps(rows))
        return
    for r in found:
        typer.echo(f"{r.reception_date}  {r.phone_number:<16} to {r.to:<16} {r.message}")
    typer.echo(f"{len(found)} unassigned reply(ies)")
