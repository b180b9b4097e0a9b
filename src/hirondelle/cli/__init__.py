"""The `hirondelle` command: one module per command group, the shared options in `options`.
Only `serve`, `web` and `worker` start servers; the application itself is wired in app.py."""

from __future__ import annotations

from typing import Annotated

import typer

from hirondelle import __version__
from hirondelle.cli.accounts import accounts_app
from hirondelle.cli.admins import admins_app
from hirondelle.cli.delivery import blacklist_app, replies_app, webhooks_app
from hirondelle.cli.options import ConfigOption, DatabaseOption, fail, settings_from
from hirondelle.cli.retention import purge
from hirondelle.cli.roles import checked, web, worker
from hirondelle.cli.sim import sim_app, smsc_sim
from hirondelle.store.engine import StoreUnavailable

app = typer.Typer(
    help="Hirondelle: a self-hosted SMS platform (allmysms API 9.0, SMPP 3.4).\n\n"
    "Run `hirondelle serve` to start everything in one process with the built-in SMSC "
    "simulator; settings come from HIRONDELLE_* variables and ./hirondelle.toml.",
    no_args_is_help=False,
    invoke_without_command=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(accounts_app, name="accounts")
app.add_typer(admins_app, name="admins")
app.add_typer(sim_app, name="sim")
app.add_typer(blacklist_app, name="blacklist")
app.add_typer(replies_app, name="replies")
app.add_typer(webhooks_app, name="webhooks")
app.command("purge")(purge)
app.command("smsc-sim")(smsc_sim)


@app.callback()
def main_callback(
    context: typer.Context,
    version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False,
) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit()
    if context.invoked_subcommand is None:
        context.invoke(serve)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default 8080; 0 = any).")] = None,
    database: DatabaseOption = None,
    tls_cert: Annotated[str | None, typer.Option(help="PEM certificate: serve HTTPS.")] = None,
    tls_key: Annotated[str | None, typer.Option(help="PEM private key of --tls-cert.")] = None,
    config: ConfigOption = None,
) -> None:
    """Run everything under one command: HTTP APIs, dispatcher, SMPP, webhooks.

    The webhook sender runs in a child process (a core of its own; webhook_process = false: in
    the process itself).

    On PostgreSQL it is a `web` and a `worker` in one process: it binds the connectors no other
    worker owns (docs/scale-out.md).

    On the first start with an empty store, a demo account is created and its login, API key
    and a ready-to-paste curl line are printed.
    """
    from hirondelle.server import PortUnavailable, run_server

    settings = checked(
        settings_from(
            config, host=host, port=port, database_url=database, tls_cert=tls_cert, tls_key=tls_key
        )
    )
    try:
        run_server(settings)
    except (PortUnavailable, StoreUnavailable) as exc:
        fail(str(exc))


app.command()(web)
app.command()(worker)


@db_app.command("upgrade")
def db_upgrade(database: DatabaseOption = None, config: ConfigOption = None) -> None:
    """Create the store if needed and apply every pending migration."""
    from hirondelle.store.engine import migrated_engine, safe_url
    from hirondelle.store.migrate import current_revision

    settings = settings_from(config, database_url=database)
    try:
        engine = migrated_engine(settings.database_url)
    except StoreUnavailable as exc:
        fail(str(exc))
    typer.echo(f"Store at revision {current_revision(engine)}: {safe_url(settings.database_url)}")
    engine.dispose()


def main() -> None:
    app(prog_name="hirondelle")
