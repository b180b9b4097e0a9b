"""Who may call, from where, and how fast: IP allow-lists and throughput limits of accounts.

What the APIs call, and what the SMPP server calls without HTTP:

- `await check_address(ctx, account, address)` (or `address_allowed`, the same as a bool): may
  this account be used from `address`? An account with no allow-list entry may be used from
  anywhere. The lists live in the store (`allowed_networks`); each process keeps a copy per
  account, checked against the account's `allowlist_version`, which authentication reads with
  the account anyway: a change applies to the next request in every process (to the sends
  within `accounts.RECENT_AUTH_SECONDS`), and a check costs no query while nothing changes.
- `take_messages(ctx, account, count)`: may this account submit `count` messages now? 0.0 when
  yes (the tokens are taken), else the seconds until it may. `services.sending.send` calls it
  (through `admit_messages`) for every send, whichever way it came in, so HTTP and SMPP share
  one bucket; a caller of `send` does not call it again. A campaign of N recipients takes N
  tokens or is refused whole (domain/throttle.py: one bigger than the bucket passes when the
  bucket is full and leaves a debt).
- `take_request(ctx, account)`: the same for API requests (API 9.0 and REST, one bucket).

Buckets live in the process (`ctx.throttles`): with several processes each holds its own, and
`throttle_processes` divides the limits among them. The APIs authenticate first, then check the
address, then the request rate: a wrong key gets the usual authentication error wherever it
comes from, and only the holder of the right key learns that its address is refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import structlog
from sqlalchemy.engine import Connection

from hirondelle.context import Context
from hirondelle.domain.networks import BadNetwork, Network, address_in, parse_networks
from hirondelle.services.accounts import Account, AccountError
from hirondelle.store import access as access_rows
from hirondelle.store import accounts as account_rows

log = structlog.get_logger(__name__)

#: Cached allow-lists kept at most per process (past this the copy starts again empty).
MAX_CACHED_LISTS = 10_000


class AccessRefused(Exception):
    """A request the account may not make from here or now; the message is safe to show."""


class AddressRefused(AccessRefused):
    def __init__(self, address: str | None) -> None:
        self.address = address
        super().__init__(f"The address {address or '(unknown)'} is not allowed for this account")


class Throttled(AccessRefused):
    """Over a throughput limit: retry after `retry_after` seconds (a whole number, at least 1)."""

    def __init__(self, what: str, limit: int, wait: float) -> None:
        self.what = what
        self.limit = limit
        self.wait = wait
        self.retry_after = max(1, math.ceil(wait))
        verb = "send" if what == "messages" else "make"
        super().__init__(
            f"Too many {what}: this account may {verb} {limit} {what} per second; "
            f"retry in {self.retry_after} s"
        )


# -- IP allow-lists ----------------------------------------------------------------------------


async def _networks(ctx: Context, account: Account) -> tuple[Network, ...]:
    if account.allowlist_version == 0:
        return ()
    cached = ctx.allowlists.get(account.id)
    if cached is not None and cached[0] >= account.allowlist_version:
        return cached[1]
    version, texts = await ctx.store.read(lambda conn: access_rows.allowlist_of(conn, account.id))
    networks = parse_networks(texts)
    if len(ctx.allowlists) >= MAX_CACHED_LISTS:
        ctx.allowlists.clear()
    ctx.allowlists[account.id] = (version, networks)
    return networks


async def address_allowed(ctx: Context, account: Account, address: str | None) -> bool:
    """Whether `account` may be used from `address` (the client's IP address as text; None
    when unknown, which no list allows). True for an account without an allow-list."""
    networks = await _networks(ctx, account)
    return not networks or address_in(address, networks)


async def check_address(ctx: Context, account: Account, address: str | None) -> None:
    """`address_allowed`, raising AddressRefused (and logging it) when not."""
    if not await address_allowed(ctx, account, address):
        log.warning("address refused", login=account.login, address=address)
        raise AddressRefused(address)


def _sorted(networks: Iterable[Network]) -> list[str]:
    ordered = sorted(networks, key=lambda n: (n.version, n.network_address, n.prefixlen))
    return [str(n) for n in ordered]


def _parse(entries: Iterable[str]) -> tuple[Network, ...]:
    try:
        return parse_networks(entries)
    except BadNetwork as exc:
        raise AccountError(f"Bad address or range: {exc}") from None


async def allowed_ips(ctx: Context, login: str) -> list[str]:
    """The allow-list of `login` (IPv4 first, then IPv6, by address); [] allows everyone."""

    def read(conn: Connection) -> list[str]:
        return access_rows.networks_of(conn, _account_id(conn, login))

    return _sorted(parse_networks(await ctx.store.read(read)))


async def change_allowed_ips(
    ctx: Context,
    login: str,
    *,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    replace: Iterable[str] | None = None,
    keep_reachable: str | None = None,
) -> list[str]:
    """Change the allow-list of `login` in one transaction and return it: add and remove
    entries, or `replace` the whole list ([] allows everyone). Removing an entry that is not
    there is an error (a typo would otherwise leave the entry in place without a word).

    `keep_reachable`: the caller's address, which the new list must allow (the REST API passes
    it, so that an account does not lock itself out over the API; the operator's CLI does not).
    """
    adding, removing = _parse(add), _parse(remove)
    new_list = None if replace is None else _parse(replace)

    def change(conn: Connection) -> list[str]:
        account_id = _account_id(conn, login)
        current = (
            new_list
            if new_list is not None
            else parse_networks(access_rows.networks_of(conn, account_id))
        )
        missing = [str(n) for n in removing if n not in current]
        if missing:
            raise AccountError(f"Not in the allow-list of {login}: {', '.join(missing)}")
        result = [n for n in dict.fromkeys((*current, *adding)) if n not in removing]
        if keep_reachable is not None and result and not address_in(keep_reachable, result):
            raise AccountError(
                f"The list must allow the address you are calling from ({keep_reachable}): "
                "without it this account could not call the API any more"
            )
        texts = _sorted(result)
        access_rows.replace_networks(conn, account_id, texts)
        return texts

    return await ctx.store.write(change)


def _account_id(conn: Connection, login: str) -> int:
    row = account_rows.find_by_login(conn, login)
    if row is None:
        raise AccountError(f"No account with login {login!r}")
    return int(row["id"])


# -- throughput limits -------------------------------------------------------------------------


def take_messages(ctx: Context, account: Account, count: int) -> float:
    """Take `count` message tokens of `account`: 0.0 when taken, else the seconds until they
    could be (nothing taken). Always 0.0 for an account without a messages/s limit."""
    limit = account.messages_per_second
    if limit is None or count <= 0:
        return 0.0
    return ctx.throttles.take(("messages", account.id), limit, count)


def give_back_messages(ctx: Context, account: Account, count: int) -> None:
    """Return the tokens of a send that was refused after `take_messages` (no credit, ...)."""
    if account.messages_per_second is not None and count > 0:
        ctx.throttles.give_back(("messages", account.id), count)


def admit_messages(ctx: Context, account: Account, count: int) -> None:
    """`take_messages`, raising Throttled when over the limit."""
    wait = take_messages(ctx, account, count)
    if wait > 0:
        assert account.messages_per_second is not None
        raise Throttled("messages", account.messages_per_second, wait)


def take_request(ctx: Context, account: Account) -> float:
    """Take one API request token of `account`: 0.0 when taken, else the seconds to wait."""
    limit = account.requests_per_second
    if limit is None:
        return 0.0
    return ctx.throttles.take(("requests", account.id), limit)


async def admit_caller(ctx: Context, account: Account, address: str | None) -> None:
    """What the APIs check once the caller is authenticated: its address (AddressRefused),
    then its request rate (Throttled). A refused address takes no request token."""
    await check_address(ctx, account, address)
    wait = take_request(ctx, account)
    if wait > 0:
        assert account.requests_per_second is not None
        raise Throttled("requests", account.requests_per_second, wait)


async def set_limits(
    ctx: Context,
    login: str,
    *,
    messages_per_second: int | None = None,
    requests_per_second: int | None = None,
) -> Account:
    """Change the limits of `login` (None: unchanged; 0: no limit) and return the account."""
    for value in (messages_per_second, requests_per_second):
        if value is not None and value < 0:
            raise AccountError("A limit is a number of messages or requests per second, >= 0")

    def change(conn: Connection) -> Account:
        row = account_rows.find_by_login(conn, login)
        if row is None:
            raise AccountError(f"No account with login {login!r}")
        messages, requests = messages_per_second, requests_per_second
        if messages is None:
            messages = row["messages_per_second"]
        if requests is None:
            requests = row["requests_per_second"]
        access_rows.set_limits(conn, row["id"], messages or None, requests or None)
        changed = account_rows.find_by_id(conn, row["id"])
        assert changed is not None
        return Account.from_row(changed)

    return await ctx.store.write(change)
