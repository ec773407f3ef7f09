"""Better Auth's `session` table for the session-check scenario: one live session per user.

The table is made as Better Auth's own migrations make it on PostgreSQL (quoted camelCase), in the
benchmark's database, which taskql then reads as BETTER_AUTH_DATABASE_URL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import asyncpg  # type: ignore[import-untyped]

from tests.support import databases

_TABLE = """
CREATE TABLE "session" (
  "id" text PRIMARY KEY,
  "expiresAt" timestamptz NOT NULL,
  "token" text NOT NULL UNIQUE,
  "createdAt" timestamptz NOT NULL,
  "updatedAt" timestamptz NOT NULL,
  "ipAddress" text,
  "userAgent" text,
  "userId" text NOT NULL
)
"""


async def seed_sessions(url: str, users: Iterable[str]) -> dict[str, str]:
    """A session (a week to live) for each user; returns each user's session id."""
    now = datetime.now(UTC)
    ids = {user: uuid.uuid4().hex for user in users}
    connection = await asyncpg.connect(databases.plain_url(url))
    try:
        await connection.execute(_TABLE)
        await connection.copy_records_to_table(
            "session",
            records=[
                (sid, now + timedelta(days=7), uuid.uuid4().hex, now, now, user)
                for user, sid in ids.items()
            ],
            columns=["id", "expiresAt", "token", "createdAt", "updatedAt", "userId"],
        )
        await connection.execute('ANALYZE "session"')
    finally:
        await connection.close()
    return ids
