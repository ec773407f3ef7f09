"""Fixtures for every folder: each database test runs on SQLite and PostgreSQL, on a clean one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

import taskql.app
from auth.jwks import JWKSClient
from taskql.settings import Settings
from tests.support import databases
from tests.support.apps import AppFactory, RunningApp, factory, make_settings, running_app
from tests.support.jwks import JwksServer
from tests.support.live import Start, serve
from tests.support.pgbouncer import PgBouncer
from tests.support.timing import FakeClock
from tests.support.tokens import TokenFactory, hs256_token


@pytest.fixture(scope="session")
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, migrated database of this session's own on the TEST_DATABASE_URL server."""
    url = await databases.create_database("taskql_test", migrate=True)
    yield url
    await databases.drop_database(url)


@pytest.fixture(scope="session")
async def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    await databases.migrate_database(databases.sqlite_url(path))
    return path


@pytest.fixture(scope="session")
def pgbouncer() -> Iterator[PgBouncer]:
    """PgBouncer in transaction mode in front of the tests' PostgreSQL server."""
    with PgBouncer(databases.postgres_server()) as bouncer:
        yield bouncer


@pytest.fixture
async def clean_postgres(postgres_url: str) -> str:
    await databases.truncate_tasks(postgres_url)
    return postgres_url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """For tests about tokens or transport rather than storage: a fresh SQLite database only."""
    return databases.sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    name = "clean_postgres" if request.param == "postgresql" else "sqlite_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
async def taskql_app(settings: Settings) -> AsyncIterator[RunningApp]:
    async with running_app(settings) as running:
        yield running


@pytest.fixture
def app(taskql_app: RunningApp) -> FastAPI:
    return taskql_app.app


@pytest.fixture
def client(taskql_app: RunningApp) -> httpx.AsyncClient:
    return taskql_app.client


@pytest.fixture
async def start(sqlite_url: str) -> AsyncIterator[Start]:
    """`await start(database_url=..., **settings)`: live servers on loopback (real sockets)
    that stop when the test ends. SQLite unless a test says: sockets and tokens do not depend
    on the database."""
    async with factory(serve, lambda: sqlite_url) as run:
        yield run


@pytest.fixture
def token() -> TokenFactory:
    return hs256_token


@pytest.fixture
async def build_app(sqlite_url: str) -> AsyncIterator[AppFactory]:
    """`await build_app(**settings)`: taskql apps on one SQLite database, closed at the end."""
    async with factory(running_app, lambda: sqlite_url) as build:
        yield build


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    with JwksServer() as server:
        yield server


@pytest.fixture
def jwks_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The clock of the JWKS client of every app this test builds: cooldowns and refresh
    intervals pass when the test advances it, not while it sleeps."""
    clock = FakeClock()
    monkeypatch.setattr(taskql.app, "JWKSClient", partial(JWKSClient, clock=clock))
    return clock
