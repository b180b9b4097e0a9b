"""`hirondelle accounts`: create and manage customer accounts."""

from __future__ import annotations

import json
from typing import Annotated, Any

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
from hirondelle.domain.pricing import parse_credits
from hirondelle.services import access, accounts, smpp_customers

accounts_app = typer.Typer(help="Create and manage customer accounts.", no_args_is_help=True)


def _credits(value: str | int) -> int:
    """A credit amount in ASCII digits (typer's int would read `١٠` or `1_0` as 10)."""
    try:
        return parse_credits(str(value))  # a default arrives as an int
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


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
        "commercialHours": account.commercial_hours,
        "sendingWindow": account.sending_window,
        "messagesPerSecond": account.messages_per_second,
        "requestsPerSecond": account.requests_per_second,
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
    settings = settings_from(config, database_url=database)

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

    new = run(create, settings)
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
    rows = run(accounts.list_all, settings_from(config, database_url=database))
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
    _echo_account(run(_find(login), settings_from(config, database_url=database)), as_json)


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
    balance = run(
        lambda ctx: accounts.top_up(ctx, login, credits),
        settings_from(config, database_url=database),
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
    commercial_hours: Annotated[
        bool | None,
        typer.Option(
            "--commercial-hours/--no-commercial-hours",
            help="Make every campaign commercial: its messages to French numbers leave only "
            "inside the sending window, never on a French public holiday (a campaign can ask "
            "for it alone with COMMERCIAL=1).",
            show_default=False,
        ),
    ] = None,
    sending_window: Annotated[
        str | None,
        typer.Option(
            help="The window of commercial messages to French numbers, Europe/Paris time: "
            "days and hours, e.g. 'Mon-Sat 08:00-20:00' (the default) or 'Mon,Wed 09:00-12:00'.",
        ),
    ] = None,
    as_json: JsonOption = False,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Change an account's reply number, MASTERACCOUNT consent and sending hours, then show it."""
    account = run(
        lambda ctx: accounts.configure(
            ctx,
            login,
            reply_number=reply_number,
            accepts_masteraccount=accepts_masteraccount,
            commercial_hours=commercial_hours,
            sending_window=sending_window,
        ),
        settings_from(config, database_url=database),
    )
    _echo_account(account, as_json)


@accounts_app.command("rotate-key")
def accounts_rotate_key(
    login: Annotated[str, typer.Argument(help="Login of the account.")],
    as_json: JsonOption = False,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Give an account a new API key; the old one stops working within a second."""
    settings = settings_from(config, database_url=database)

    async def rotate(ctx: Context) -> tuple[str, accounts.Account]:
        key = await accounts.rotate_api_key(ctx, login)
        return key, await _find(login)(ctx)

    key, account = run(rotate, settings)
    if as_json:
        typer.echo(json.dumps(_account_json(account, key)))
    else:
        typer.echo(f"New API key for {login} (shown once): {key}")


@accounts_app.command("smpp-password")
def accounts_smpp_password(
    login: Annotated[str, typer.Argument(help="Login of the account (its SMPP system_id).")],
    password: Annotated[
        str | None,
        typer.Option(help="The password to set, 6 to 8 characters (default: one is generated)."),
    ] = None,
    disable: Annotated[
        bool, typer.Option("--disable", help="Remove the SMPP password: no more binds.")
    ] = False,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Set the account's SMPP password (enables the SMPP server for it); a generated one is
    printed once, only its hash is kept (docs/smpp-server.md)."""
    settings = settings_from(config, database_url=database)
    if disable:
        run(lambda ctx: smpp_customers.disable_smpp(ctx, login), settings)
        typer.echo(f"SMPP disabled for {login}")
        return
    chosen = run(lambda ctx: smpp_customers.set_smpp_password(ctx, login, password), settings)
    if password is None:
        typer.echo(f"SMPP password for {login} (shown once): {chosen}")
    else:
        typer.echo(f"SMPP password set for {login}")


@accounts_app.command("smpp-max-binds")
def accounts_smpp_max_binds(
    login: Annotated[str, typer.Argument(help="Login of the account.")],
    max_binds: Annotated[
        int | None,
        typer.Argument(help="Binds at once, 1 to 1000 (omit: back to smpp_server_max_binds)."),
    ] = None,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """How many SMPP binds the account may hold at once."""
    settings = settings_from(config, database_url=database)
    run(lambda ctx: smpp_customers.set_max_binds(ctx, login, max_binds), settings)
    limit = max_binds if max_binds is not None else "the smpp_server_max_binds setting"
    typer.echo(f"{login}: at most {limit} SMPP binds")


LoginArgument = Annotated[str, typer.Argument(help="Login of the account.")]
NetworksArgument = Annotated[
    list[str], typer.Argument(help="Addresses or CIDR ranges, IPv4 or IPv6.", show_default=False)
]


def _echo_networks(login: str, networks: list[str], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"login": login, "allowedIps": networks}))
    elif networks:
        typer.echo(f"{login} may be used from: {' '.join(networks)}")
    else:
        typer.echo(f"{login} may be used from any address (no allow-list)")


@accounts_app.command("allow-ip")
def accounts_allow_ip(
    login: LoginArgument,
    networks: NetworksArgument,
    as_json: JsonOption = False,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Add addresses or ranges to an account's IP allow-list: its API calls and SMPP binds are
    then refused from anywhere else (API 9.0: status 102 or the method's error; REST: 403)."""
    result = run(
        lambda ctx: access.change_allowed_ips(ctx, login, add=networks),
        settings_from(config, database_url=database),
    )
    _echo_networks(login, result, as_json)


@accounts_app.command("remove-ip")
def accounts_remove_ip(
    login: LoginArgument,
    networks: Annotated[
        list[str] | None,
        typer.Argument(help="Entries to remove, as listed by allowed-ips.", show_default=False),
    ] = None,
    remove_all: Annotated[
        bool, typer.Option("--all", help="Empty the list: allowed from anywhere again.")
    ] = False,
    as_json: JsonOption = False,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Remove entries from an account's IP allow-list (an empty list allows any address)."""
    if not networks and not remove_all:
        fail("name the entries to remove, or --all")
    if networks and remove_all:
        fail("--all removes every entry: name none with it")
    result = run(
        lambda ctx: access.change_allowed_ips(
            ctx, login, remove=networks or (), replace=[] if remove_all else None
        ),
        settings_from(config, database_url=database),
    )
    _echo_networks(login, result, as_json)


@accounts_app.command("allowed-ips")
def accounts_allowed_ips(
    login: LoginArgument,
    as_json: JsonOption = False,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Show an account's IP allow-list."""
    result = run(
        lambda ctx: access.allowed_ips(ctx, login), settings_from(config, database_url=database)
    )
    _echo_networks(login, result, as_json)


def _limit(value: str) -> int:
    """A limit in ASCII digits, 0 for none."""
    if not value.isascii() or not value.isdigit():
        raise typer.BadParameter("a whole number of messages or requests per second (0: none)")
    return int(value)


@accounts_app.command("limits")
def accounts_limits(
    login: LoginArgument,
    messages_per_second: Annotated[
        int | None,
        typer.Option(
            parser=_limit,
            help="Messages the account may submit per second, HTTP and SMPP together; a "
            "campaign counts one per recipient. 0 removes the limit.",
            show_default=False,
        ),
    ] = None,
    requests_per_second: Annotated[
        int | None,
        typer.Option(
            parser=_limit,
            help="API requests (API 9.0 and REST) per second. 0 removes the limit.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Set an account's throughput limits (over them: HTTP 429 with Retry-After), then show
    them; without options, only show them. Each process of a scale-out enforces its share
    (setting throttle_processes)."""
    settings = settings_from(config, database_url=database)
    if messages_per_second is None and requests_per_second is None:
        account = run(_find(login), settings)
    else:
        account = run(
            lambda ctx: access.set_limits(
                ctx,
                login,
                messages_per_second=messages_per_second,
                requests_per_second=requests_per_second,
            ),
            settings,
        )
    data = {
        "login": account.login,
        "messagesPerSecond": account.messages_per_second,
        "requestsPerSecond": account.requests_per_second,
    }
    if as_json:
        typer.echo(json.dumps(data))
        return
    for key in ("messagesPerSecond", "requestsPerSecond"):
        value = data[key]
        typer.echo(f"{key:>17}: {'unlimited' if value is None else value}")
