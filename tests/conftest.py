"""Shared fixtures: every database test runs on SQLite and PostgreSQL, each on a clean database."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI
from jose import jwt
from sqlalchemy import make_url, text

from db.migrate import upgrade
from db.session import create_engine
from db.url import normalize_database_url
from taskql.app import create_app
from taskql.settings import Settings

if TYPE_CHECKING:
    from tests.auth.apps import AppFactory

TEST_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
TokenFactory = Callable[..., str]


def pg_server_url() -> str:
    return normalize_database_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_PG))


async def _admin(url: str, statement: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(statement))
    except OSError as exc:
        pytest.fail(f"PostgreSQL at {url} is not reachable ({exc}); set TEST_DATABASE_URL")
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, migrated database of this session's own on the TEST_DATABASE_URL server.

    Concurrent test runs (a developer and CI, or parallel sessions) never share tables.
    """
    server = make_url(pg_server_url())
    name = f"taskql_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    await _admin(server.render_as_string(hide_password=False), f'CREATE DATABASE "{name}"')
    url = server.set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    yield url
    await _admin(
        server.render_as_string(hide_password=False), f'DROP DATABASE "{name}" WITH (FORCE)'
    )


@pytest.fixture(scope="session")
async def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade(engine)
    await engine.dispose()
    return path


@pytest.fixture
async def clean_postgres(postgres_url: str) -> str:
    engine = create_engine(postgres_url)
    async with engine.begin() as connection:
        await connection.execute(text("TRUNCATE tasks RESTART IDENTITY"))
    await engine.dispose()
    return postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("clean_postgres"))
    target = tmp_path / "taskql.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite+aiosqlite:///{target}"


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "better_auth_secret": TEST_SECRET,
        "better_auth_url": None,
        "taskql_env": "development",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://taskql.test") as http:
        yield http


def hs256_token(sub: str = "user-a", *, ttl: int = 900, **claims: Any) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {"sub": sub, "iat": now, "exp": now + ttl, **claims}
    return str(jwt.encode(payload, TEST_SECRET, algorithm="HS256"))


@pytest.fixture
def token() -> TokenFactory:
    return hs256_token


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """For tests about tokens rather than storage: a fresh SQLite database only."""
    from tests.auth.apps import sqlite_copy

    return sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture
async def build_app(sqlite_url: str) -> AsyncIterator[AppFactory]:
    """`await build_app(**settings)`: taskql apps on SQLite, each closed when the test ends."""
    from tests.auth.apps import app_factory

    async with app_factory(sqlite_url) as build:
        yield build
