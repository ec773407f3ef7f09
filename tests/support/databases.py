"""Databases of a test session or a benchmark run: PostgreSQL ones made and dropped on a server,
SQLite ones copied from a migrated template.

Names carry the process id and a random part, so concurrent runs (a developer and CI, parallel
sessions) never share tables.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import make_url

from db.migrate import upgrade
from db.session import create_engine
from db.url import normalize_database_url

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


class DatabaseUnreachable(RuntimeError):
    """The PostgreSQL server the tests were pointed at does not answer."""


def postgres_server(variable: str = "TEST_DATABASE_URL", default: str = DEFAULT_POSTGRES) -> str:
    """The server's URL as taskql takes it, from `variable` in the environment or `default`."""
    return normalize_database_url(os.environ.get(variable, default))


def plain_url(url: str) -> str:
    """`postgresql://…` without a driver: what asyncpg, Node's pg and psql take."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(server: str, statement: str) -> None:
    try:
        connection = await asyncpg.connect(plain_url(server))
    except OSError as exc:
        raise DatabaseUnreachable(
            f"PostgreSQL at {server} is not reachable ({exc}); set TEST_DATABASE_URL "
            "(the tests) or BENCH_DATABASE_URL (the benchmark)"
        ) from exc
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def create_database(prefix: str, *, server: str | None = None, migrate: bool = False) -> str:
    """A new database on `server` (default: TEST_DATABASE_URL's), migrated if asked; its URL."""
    server = server or postgres_server()
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    await _admin(server, f'CREATE DATABASE "{name}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    if migrate:
        await migrate_database(url)
    return url


async def drop_database(url: str, *, server: str | None = None) -> None:
    """Drops the database of `url`, from `server` (it cannot be done from inside it)."""
    name = make_url(url).database
    await _admin(server or postgres_server(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def migrate_database(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def truncate_tasks(url: str) -> None:
    """Every task (and Idempotency-Key) gone and ids from 1 again: a clean PostgreSQL database
    for the next test."""
    connection = await asyncpg.connect(plain_url(url))
    try:
        await connection.execute("TRUNCATE tasks, idempotency_keys RESTART IDENTITY")
    finally:
        await connection.close()


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def sqlite_copy(template: Path, directory: Path, name: str = "taskql.db") -> str:
    """A fresh SQLite database: a copy of the migrated `template`, in `directory`."""
    target = directory / name
    shutil.copy(template, target)
    return sqlite_url(target)


@contextmanager
def empty_databases(*suffixes: str) -> Iterator[dict[str, str]]:
    """One empty PostgreSQL database per suffix, as plain URLs; all dropped afterwards.

    For code without an event loop of its own, or with one it must not block (Playwright's).
    """
    urls: dict[str, str] = {}
    try:
        for suffix in suffixes:
            urls[suffix] = plain_url(_aside(create_database(f"taskql_e2e_{suffix}")))
        yield dict(urls)
    finally:
        for url in urls.values():
            _aside(drop_database(url))


def _aside(coroutine: Coroutine[Any, Any, str | None]) -> Any:
    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
