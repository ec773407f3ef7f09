"""Alembic migrations create the schema from nothing and are a no-op when run again."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, make_url, text

from db.migrate import current_revision, head_revision, upgrade
from db.models import Base
from db.session import create_engine
from tests.conftest import _admin, pg_server_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def empty_postgres() -> AsyncIterator[str]:
    server = make_url(pg_server_url())
    name = f"taskql_migrate_{uuid.uuid4().hex[:8]}"
    await _admin(server.render_as_string(hide_password=False), f'CREATE DATABASE "{name}"')
    yield server.set(database=name).render_as_string(hide_password=False)
    await _admin(
        server.render_as_string(hide_password=False), f'DROP DATABASE "{name}" WITH (FORCE)'
    )


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "taskql", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )


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
