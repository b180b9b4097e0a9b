"""Shared fixtures: a migrated store on SQLite (always) and PostgreSQL (when configured).

PostgreSQL tests run when HIRONDELLE_TEST_POSTGRES_URL is set (`.ci/run` sets it) and skip with a
reason otherwise; with the variable set, a server that cannot be reached fails them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from hirondelle.app import create_app
from hirondelle.config import Settings
from hirondelle.context import Context
from hirondelle.store import Store
from hirondelle.store.engine import create_engine
from hirondelle.store.migrate import upgrade
from hirondelle.store.schema import metadata

POSTGRES_URL_ENV = "HIRONDELLE_TEST_POSTGRES_URL"
TEST_SECRET = b"test-secret-key-not-for-production"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating each time would be slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


def worker_database(url: str) -> str:
    """Under pytest-xdist, each worker gets a database of its own (`<name>_gw0`, ...) created
    beside the configured one: the tests truncate tables, and two workers must never share."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    base = sa.engine.make_url(url)
    name = f"{base.database}_{worker}"
    admin = create_engine(url)
    with admin.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def drop_worker_database(url: str, worker_url: str) -> None:
    if worker_url == url:
        return
    admin = create_engine(url)
    with admin.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        name = sa.engine.make_url(worker_url).database
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    configured = os.environ.get(POSTGRES_URL_ENV)
    if not configured:
        pytest.skip(f"PostgreSQL tests skipped: set {POSTGRES_URL_ENV} to run them")
    url = worker_database(configured)  # fails loudly if the server cannot be reached
    engine = create_engine(url)
    with engine.begin() as conn:  # a clean schema once per run
        metadata.drop_all(conn)
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    upgrade(engine)
    engine.dispose()
    yield url
    drop_worker_database(configured, url)


def truncate_all(url: str) -> None:
    engine = create_engine(url)
    names = ", ".join(table.name for table in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh, migrated store URL: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "hirondelle.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    truncate_all(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh SQLite store only, for tests about SQLite itself."""
    path = tmp_path / "hirondelle.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def make_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "secret_key": TEST_SECRET.decode(),
        "var_dir": str(tmp_path / "var"),
        "demo_account": False,
        "workers": False,  # tests that want the dispatcher and SMPP turn them on
        "webhook_process": False,  # the sender in the test's loop (test_webhook_process.py)
        "simulator_receipt_delay": 0.0,
        "auth_max_delay": 0.0,  # no brute-force delay; tests/api/test_auth_failures.py has its own
    }
    return Settings(**{**values, **overrides})


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Context]:
    engine = create_engine(settings.database_url)
    context = Context(store=Store(engine), settings=settings, secret=TEST_SECRET)
    yield context
    context.close()


def postgres_context(url: str, tmp_path: Path) -> Context:
    """A Context of its own on the PostgreSQL store at `url`: what another process would hold."""
    settings = make_settings(url, tmp_path)
    return Context(store=Store(create_engine(url)), settings=settings, secret=TEST_SECRET)


@pytest.fixture
def pg_ctx(postgres_url: str, tmp_path: Path) -> Iterator[Context]:
    """A Context on an emptied PostgreSQL store only, for tests about PostgreSQL itself."""
    truncate_all(postgres_url)
    context = postgres_context(postgres_url, tmp_path)
    yield context
    context.close()


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    with TestClient(create_app(ctx)) as test_client:
        yield test_client


def count_rows(ctx: Context, table: sa.Table) -> int:
    return ctx.store.read_sync(
        lambda conn: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
    )


@contextmanager
def live_app(settings: Settings) -> Iterator[tuple[Context, TestClient]]:
    """The whole server in-process — dispatcher, SMPP, embedded simulator — with its store."""
    ctx = Context(
        store=Store(create_engine(settings.database_url)), settings=settings, secret=TEST_SECRET
    )
    try:
        with TestClient(create_app(ctx)) as client:
            yield ctx, client
    finally:
        ctx.close()


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[tuple[Context, TestClient]]:
    """`live_app` with the workers on, on each engine."""
    with live_app(make_settings(database_url, tmp_path, workers=True)) as running:
        yield running
