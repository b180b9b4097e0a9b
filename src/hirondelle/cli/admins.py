"""`hirondelle admins`: the platform's administrators, who sign in to the operators' area."""

from __future__ import annotations

import secrets
import sys
from typing import Annotated

import typer

from hirondelle.cli.options import ConfigOption, DatabaseOption, run, settings_from
from hirondelle.services import admins

admins_app = typer.Typer(
    help="Platform administrators (the operators' area at /admin/).", no_args_is_help=True
)


@admins_app.command("create")
def admins_create(
    login: Annotated[str, typer.Argument(help="Login of the new administrator.")],
    password: Annotated[
        str | None,
        typer.Option(
            help="Its password (at least 6 characters). Without it: asked for on a terminal, "
            "else drawn at random and printed once."
        ),
    ] = None,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Create an administrator who signs in at /admin/ (not a customer account: no API key)."""
    settings = settings_from(config, database_url=database)
    drawn = False
    if password is None:
        if sys.stdin.isatty():
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        else:
            password, drawn = secrets.token_urlsafe(15), True
    chosen = password
    admin = run(lambda ctx: admins.create_admin(ctx, login, chosen), settings)
    typer.echo(f"Administrator {admin.login} created; sign in at {settings.base_url}/admin/")
    if drawn:
        typer.echo(f"Password (shown once): {chosen}")


@admins_app.command("list")
def admins_list(database: DatabaseOption = None, config: ConfigOption = None) -> None:
    """The administrators' logins."""
    for admin in run(admins.list_admins, settings_from(config, database_url=database)):
        typer.echo(admin.login)
