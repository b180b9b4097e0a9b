"""Accounts: creation rules, API-key digests and rotation, passwords."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

from hirondelle.context import Context
from hirondelle.services import accounts
from hirondelle.store.schema import accounts as accounts_table

pytestmark = pytest.mark.anyio


async def test_api_key_is_stored_only_as_a_digest(ctx: Context) -> None:
    new = await accounts.create_account(ctx, "alice", password="secret1", credits=5)
    row = ctx.store.read_sync(lambda conn: conn.execute(sa.select(accounts_table)).mappings().one())
    assert new.api_key not in str(dict(row))
    assert row["api_key_digest"] == accounts.api_key_digest(ctx.secret, new.api_key)
    assert row["password_hash"].startswith("$argon2")
    assert PasswordHasher().verify(row["password_hash"], "secret1")
    with pytest.raises(VerificationError):
        PasswordHasher().verify(row["password_hash"], "secret2")
    assert (await accounts.authenticate(ctx, "alice", new.api_key)) is not None


async def test_rotation_invalidates_the_old_key(ctx: Context) -> None:
    new = await accounts.create_account(ctx, "alice")
    fresh = await accounts.rotate_api_key(ctx, "alice")
    assert fresh != new.api_key
    assert await accounts.authenticate(ctx, "alice", new.api_key) is None
    assert await accounts.authenticate(ctx, "alice", fresh) is not None


async def test_logins_are_unique(ctx: Context) -> None:
    await accounts.create_account(ctx, "alice")
    with pytest.raises(accounts.LoginTaken):
        await accounts.create_account(ctx, "alice")


@pytest.mark.parametrize("password", ["", "12345"])
async def test_short_passwords_are_refused(ctx: Context, password: str) -> None:
    with pytest.raises(accounts.AccountError, match="at least 6"):
        await accounts.create_account(ctx, "alice", password=password)
    assert await accounts.find_account(ctx, "alice") is None


async def test_logins_must_not_be_empty(ctx: Context) -> None:
    with pytest.raises(accounts.AccountError):
        await accounts.create_account(ctx, "   ")
