"""The `hirondelle` command. Only this module starts servers; the rest is wired in app.py."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, NoReturn

import typer

from hirondelle import __version__
from hirondelle.cli_delivery import blacklist_app, replies_app, webhooks_app
from hirondelle.cli_sim import sim_app, smsc_sim
from hirondelle.config import ConfigError, Settings, load_settings
from hirondelle.domain.pricing import parse_credits
from hirondelle.services import accounts
from hirondelle.services.context import Context, open_context
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
accounts_app = typer.Typer(help="Create and manage customer accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(accounts_app, name="accounts")
app.add_typer(sim_app, name="sim")
app.add_typer(blacklist_app, name="blacklist")
app.add_typer(replies_app, name="replies")
app.add_typer(webhooks_app, name="webhooks")
app.command("smsc-sim")(smsc_sim)

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


def _credits(value: str | int) -> int:
    """A credit amount in ASCII digits (typer's int would read `١٠` or `1_0` as 10)."""
    try:
        return parse_credits(str(value))  # a default arrives as an int
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _settings(config: str | None, **overrides: Any) -> Settings:
    try:
        return load_settings(config, **overrides)
    except ConfigError as exc:
        fail(f"invalid configuration: {exc}", 2)


def _run(coro_fn: Any, settings: Settings) -> Any:
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
    """Run everything in one process: HTTP APIs, dispatcher, SMPP, webhooks.

    On the first start with an empty store, a demo account is created and its login, API key
    and a ready-to-paste curl line are printed.
    """
    from hirondelle.server import PortUnavailable, run_server

    settings = _settings(
        config, host=host, port=port, database_url=database, tls_cert=tls_cert, tls_key=tls_key
    )
    try:
        for connector in settings.connectors:
            connector.resolved_password()
    except ConfigError as exc:
        fail(f"invalid configuration: {exc}", 2)
    try:
        run_server(settings)
    except (PortUnavailable, StoreUnavailable) as exc:
        fail(str(exc))


@db_app.command("upgrade")
def db_upgrade(database: DatabaseOption = None, config: ConfigOption = None) -> None:
    """Create the store if needed and apply every pending migration."""
    from hirondelle.store.engine import migrated_engine, safe_url
    from hirondelle.store.migrate import current_revision

    settings = _settings(config, database_url=database)
    try:
        engine = migrated_engine(settings.database_url)
    except StoreUnavailable as exc:
        fail(str(exc))
    typer.echo(f"Store at revision {current_revision(engine)}: {safe_url(settings.database_url)}")
    engine.dispose()


def _account_json(account: accounts.Account, api_key: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "login": account.login,
        "credits": account.balance,
        "role": account.role,
        "active": account.active,
        "postpaid": account.postpaid,
        "timezone": account.timezone,
        "replyNumber": account.reply_number,
        "acceptsMasteraccount": account.accepts_masteraccount,
    }
    if api_key is not None:
        data["apiKey"] = api_key
    return data


@accounts_app.command("create")
def accounts_create(
    login: Annotated[str, typer.Argument(help="Unique login of the new account.")],
    credits: Annotated[int, typer.Option(parser=_credits, help="Opening credits.")] = 0,
    password: Annotated[
        str | None, typer.Option(help="Customer-area password (at least 6 characters).")
    ] = None,
    admin: Annotated[
        bool, typer.Option("--admin", help="Give the account the admin role.")
    ] = False,
    postpaid: Annotated[
        bool, typer.Option("--postpaid", help="Let the balance go negative.")
    ] = False,
    email: Annotated[str, typer.Option(help="Contact email.")] = "",
    as_json: JsonOption = False,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Create an account and print its API key (shown only this once)."""
    settings = _settings(config, database_url=database)

    async def create(ctx: Context) -> accounts.NewAccount:
        try:
            return await accounts.create_account(
                ctx,
                login,
                password=password,
                credits=credits,
                role="admin" if admin else "customer",
                postpaid=postpaid,
                email=email,
            )
        except accounts.LoginTaken as exc:
            raise accounts.AccountError(f"The login {login!r} is already taken") from exc

    new = _run(create, settings)
    if as_json:
        typer.echo(json.dumps(_account_json(new.account, new.api_key)))
    else:
        typer.echo(f"Created account {new.account.login} with {new.account.balance} credits.")
        typer.echo(f"API key (shown once, keep it safe): {new.api_key}")


@accounts_app.command("list")
def accounts_list(
    as_json: JsonOption = False, database: DatabaseOption = None, config: ConfigOption = None
) -> None:
    """List accounts with their balance."""
    rows = _run(accounts.list_all, _settings(config, database_url=database))
    if as_json:
        typer.echo(json.dumps([_account_json(a) for a in rows]))
        return
    typer.echo(f"{'LOGIN':<24} {'CREDITS':>10}  ROLE      ACTIVE  PARENT")
    by_id = {a.id: a.login for a in rows}
    for a in rows:
        parent = by_id.get(a.parent_id, "") if a.parent_id else ""
        active = "yes" if a.active else "no"
        typer.echo(f"{a.login:<24} {a.balance:>10}  {a.role:<8}  {active:<6}  {parent}")
    typer.echo(f"{len(rows)} account(s)")


def _find(login: str) -> Any:
    async def find(ctx: Context) -> accounts.Account:
        account = await accounts.find_account(ctx, login)
        if account is None:
            raise accounts.AccountError(f"No account with login {login!r}")
        return account

    return find


@accounts_app.command("show")
def accounts_show(
    login: Annotated[str, typer.Argument(help="Login of the account.")],
    as_json: JsonOption = False,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Show one account."""
    _echo_account(_run(_find(login), _settings(config, database_url=database)), as_json)


def _echo_account(account: accounts.Account, as_json: bool) -> None:
    data = _account_json(account)
    if as_json:
        typer.echo(json.dumps(data))
    else:
        for key, value in data.items():
            typer.echo(f"{key:>10}: {value}")


@accounts_app.command("topup")
def accounts_topup(
    login: Annotated[str, typer.Argument(help="Login of the account.")],
    credits: Annotated[int, typer.Argument(parser=_credits, help="Credits to add (positive).")],
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Add credits to an account (a ledger entry of kind 'topup')."""
    balance = _run(
        lambda ctx: accounts.top_up(ctx, login, credits), _settings(config, database_url=database)
    )
    typer.echo(f"{login}: {balance} credits")


@accounts_app.command("set")
def accounts_set(
    login: Annotated[str, typer.Argument(help="Login of the account.")],
    reply_number: Annotated[
        str | None,
        typer.Option(
            help="The account's own number (short code or +CC…): it sends from it, and every "
            "reply written to it reaches this account. 'none' removes it."
        ),
    ] = None,
    accepts_masteraccount: Annotated[
        bool | None,
        typer.Option(
            "--accept-masteraccount/--refuse-masteraccount",
            help="Let other accounts make themselves its sub-accounts with sendSms's "
            "MASTERACCOUNT (refused unless accepted).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Change an account's reply number and MASTERACCOUNT consent, then show it."""
    account = _run(
        lambda ctx: accounts.configure(
            ctx, login, reply_number=reply_number, accepts_masteraccount=accepts_masteraccount
        ),
        _settings(config, database_url=database),
    )
    _echo_account(account, as_json)


@accounts_app.command("rotate-key")
def accounts_rotate_key(
    login: Annotated[str, typer.Argument(help="Login of the account.")],
    as_json: JsonOption = False,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Give an account a new API key; the old one stops working at once."""
    settings = _settings(config, database_url=database)

    async def rotate(ctx: Context) -> tuple[str, accounts.Account]:
        key = await accounts.rotate_api_key(ctx, login)
        return key, await _find(login)(ctx)

    key, account = _run(rotate, settings)
    if as_json:
        typer.echo(json.dumps(_account_json(account, key)))
    else:
        typer.echo(f"New API key for {login} (shown once): {key}")


def main() -> None:
    app(prog_name="hirondelle")


if __name__ == "__main__":
    main()
