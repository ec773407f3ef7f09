"""Alembic migrations create the schema from nothing and are a no-op when run again."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, inspect, text

from db.migrate import alembic_config, current_revision, head_revision, upgrade
from db.models import Base
from db.session import create_engine
from tests.support.databases import create_database, drop_database, sqlite_url
from tests.support.paths import REPO
from tests.support.processes import run_taskql


@pytest.fixture
async def empty_postgres() -> AsyncIterator[str]:
    url = await create_database("taskql_migrate")
    yield url
    await drop_database(url)


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_taskql(*args, cwd=REPO, env={**os.environ, **env}, timeout=60)


async def test_taskql_migrate_creates_schema_on_empty_postgres_and_twice_is_a_no_op(
    empty_postgres: str,
) -> None:
    env = {"DATABASE_URL": empty_postgres.replace("postgresql+asyncpg://", "postgres://")}
    first = run_cli("migrate", env=env)
    assert first.returncode == 0, first.stderr
    engine = create_engine(empty_postgres)
    try:
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as connection:
            before = await connection.run_sync(lambda c: inspect(c).get_indexes("tasks"))
        second = run_cli("migrate", env=env)
        assert second.returncode == 0, second.stderr
        async with engine.connect() as connection:
            after = await connection.run_sync(lambda c: inspect(c).get_indexes("tasks"))
            versions = (
                await connection.execute(text("SELECT count(*) FROM alembic_version"))
            ).scalar()
        assert before == after
        assert {index["name"] for index in after} == {
            "ix_tasks_user_id_created_at_id",
            "ix_tasks_user_id_updated_at_id",
            "ix_tasks_user_id_title_id",
        }
        assert versions == 1
    finally:
        await engine.dispose()


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert diff == []


async def test_concurrent_migrations_serialise(empty_postgres: str) -> None:
    import asyncio

    engines = [create_engine(empty_postgres) for _ in range(3)]
    try:
        await asyncio.gather(*(upgrade(engine) for engine in engines))
        assert await current_revision(engines[0]) == head_revision()
    finally:
        for engine in engines:
            await engine.dispose()


def _upgrade_to(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
async def test_0002_gives_existing_tasks_version_1_and_adds_the_idempotency_keys(
    dialect: str, empty_postgres: str, tmp_path: Path
) -> None:
    url = empty_postgres if dialect == "postgresql" else sqlite_url(tmp_path / "old.db")
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_to, "0001")
            await connection.execute(
                text(
                    "INSERT INTO tasks (user_id, title, completed, created_at, updated_at)"
                    " VALUES ('alice', 'from before', false, :now, :now)"
                ),
                {"now": datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)},
            )
        await upgrade(engine)
        async with engine.connect() as connection:
            versions = (await connection.execute(text("SELECT version FROM tasks"))).all()
            tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
    finally:
        await engine.dispose()
    assert versions == [(1,)]
    assert "idempotency_keys" in tables
