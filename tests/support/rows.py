"""What a test's database holds, read directly: the rows behind what the API answered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from db.models import IdempotencyKey, Task
from db.session import create_engine


@asynccontextmanager
async def engine_for(url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def tasks_of(url: str, user_id: str) -> list[dict[str, Any]]:
    async with engine_for(url) as engine, engine.connect() as connection:
        rows = await connection.execute(select(Task).where(Task.user_id == user_id))
        return [dict(row._mapping) for row in rows]


async def keys_of(url: str, user_id: str) -> list[dict[str, Any]]:
    async with engine_for(url) as engine, engine.connect() as connection:
        rows = await connection.execute(
            select(IdempotencyKey).where(IdempotencyKey.user_id == user_id)
        )
        return [dict(row._mapping) for row in rows]


async def execute(url: str, statement: str, **params: Any) -> None:
    async with engine_for(url) as engine, engine.begin() as connection:
        await connection.execute(text(statement), params)


async def insert_key(url: str, **values: Any) -> None:
    """An idempotency_keys row as a replica would have left it (e.g. claimed, then crashed)."""
    async with engine_for(url) as engine, engine.begin() as connection:
        await connection.execute(insert(IdempotencyKey).values(**values))


async def update_keys(url: str, user_id: str, **values: Any) -> None:
    async with engine_for(url) as engine, engine.begin() as connection:
        await connection.execute(
            update(IdempotencyKey).where(IdempotencyKey.user_id == user_id).values(**values)
        )
