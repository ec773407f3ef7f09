"""A throwaway PostgreSQL database for one benchmark run: migrated, seeded, dropped at the end."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import make_url

from db.migrate import upgrade
from db.session import create_engine
from db.url import normalize_database_url

SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def user_id(index: int) -> str:
    return f"bench-user-{index:05d}"


async def create_database() -> str:
    """A fresh database on the server; returns its SQLAlchemy URL."""
    name = f"taskql_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = make_url(normalize_database_url(SERVER_URL)).set(database=name)
    rendered = url.render_as_string(hide_password=False)
    engine = create_engine(rendered)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    return rendered


async def drop_database(url: str) -> None:
    name = make_url(url).database
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def seed(url: str, users: int, tasks_per_user: int) -> dict[str, list[int]]:
    """users × tasks_per_user tasks, created a minute apart; returns each user's task ids."""
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        start = datetime.now(UTC) - timedelta(days=30)
        records = []
        for index in range(users):
            for number in range(tasks_per_user):
                at = start + timedelta(minutes=index * tasks_per_user + number)
                description = f"Seeded task {number} of {user_id(index)}" if number % 3 else None
                records.append(
                    (user_id(index), f"Task {number}", description, number % 4 == 0, at, at)
                )
        await connection.copy_records_to_table(
            "tasks",
            records=records,
            columns=["user_id", "title", "description", "completed", "created_at", "updated_at"],
        )
        await connection.execute("ANALYZE tasks")
        rows = await connection.fetch(
            "SELECT user_id, array_agg(id ORDER BY id) AS ids FROM tasks GROUP BY user_id"
        )
        return {row["user_id"]: list(row["ids"]) for row in rows}
    finally:
        await connection.close()


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(normalize_database_url(SERVER_URL)))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
