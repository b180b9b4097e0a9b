"""`hirondelle web` and `hirondelle worker`: the two roles of a scale-out on PostgreSQL
(docs/scale-out.md). `hirondelle serve` runs both in one process."""

from __future__ import annotations

from typing import Annotated

import typer

from hirondelle.cli.options import ConfigOption, DatabaseOption, fail, settings_from
from hirondelle.config import ConfigError, Settings
from hirondelle.store.engine import StoreUnavailable

NEEDS_POSTGRES = (
    "`hirondelle {role}` needs PostgreSQL (--database postgresql://…): with SQLite one process "
    "does everything, run `hirondelle serve`"
)


def checked(settings: Settings, role: str | None = None) -> Settings:
    """Refuse, in one line, what cannot run: a role on SQLite, a connector without password."""
    if role is not None and settings.is_sqlite:
        fail(NEEDS_POSTGRES.format(role=role), 2)
    try:
        for connector in settings.connectors:
            connector.resolved_password()
    except ConfigError as exc:
        fail(f"invalid configuration: {exc}", 2)
    return settings


def web(
    host: Annotated[str | None, typer.Option(help="Listen address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default 8080; 0 = any).")] = None,
    processes: Annotated[
        int, typer.Option(min=1, max=256, help="Processes sharing the port (one per core).")
    ] = 1,
    database: DatabaseOption = None,
    tls_cert: Annotated[str | None, typer.Option(help="PEM certificate: serve HTTPS.")] = None,
    tls_key: Annotated[str | None, typer.Option(help="PEM private key of --tls-cert.")] = None,
    config: ConfigOption = None,
) -> None:
    """Serve HTTP only: APIs, customer area, short links, /metrics (PostgreSQL).

    No dispatcher, no SMPP, no webhook or email sender: run `hirondelle worker` beside it.

    With --processes N, a parent binds the port, starts N processes that accept on it, restarts
    one that dies and passes SIGTERM on to them.
    """
    from hirondelle.server import PortUnavailable, run_server, run_web_processes

    settings = checked(
        settings_from(
            config, host=host, port=port, database_url=database, tls_cert=tls_cert, tls_key=tls_key
        ),
        "web",
    ).model_copy(update={"workers": False})
    try:
        if processes == 1:
            run_server(settings)
        else:
            run_web_processes(settings, processes)
    except (PortUnavailable, StoreUnavailable) as exc:
        fail(str(exc))


def worker(database: DatabaseOption = None, config: ConfigOption = None) -> None:
    """Run the dispatcher, SMPP connectors, webhook and email senders (PostgreSQL).

    No HTTP; scheduled campaigns leave from here. Start as many as you like.

    Each connector is bound by one worker at a time (a PostgreSQL advisory lock); when a worker
    dies another takes its connectors over within seconds.
    """
    from hirondelle.server import PortUnavailable, run_worker

    settings = checked(settings_from(config, database_url=database), "worker")
    try:
        run_worker(settings)
    except (PortUnavailable, StoreUnavailable) as exc:
        fail(str(exc))
