"""A throwaway PostgreSQL database for one benchmark run: migrated, seeded, dropped at the end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg  # type: ignore[import-untyped]

from tests.support import databases

SERVER_URL = databases.postgres_server(
    "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def user_id(index: int) -> str:
    return f"bench-user-{index:05d}"


async def create_database() -> str:
    """A fresh, migrated database on the server; returns its SQLAlchemy URL."""
    return await databases.create_database("taskql_bench", server=SERVER_URL, migrate=True)


async def drop_database(url: str) -> None:
    await databases.drop_database(url, server=SERVER_URL)


async def seed(url: str, users: int, tasks_per_user: int) -> dict[str, list[int]]:
    """users × tasks_per_user tasks, created a minute apart; returns each user's task ids."""
    connection = await asyncpg.connect(databases.plain_url(url))
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
