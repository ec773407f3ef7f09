"""The pool serves waiting requests in arrival order: a busy pool starves nobody into a 503."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.util import greenlet_spawn
from sqlalchemy.util.queue import AsyncAdaptedQueue, Empty

from db.pool import FairAsyncPool, FairQueue
from db.session import Database, PoolOptions


@pytest.mark.parametrize(("queue_class", "fair"), [(FairQueue, True), (AsyncAdaptedQueue, False)])
async def test_a_returned_connection_goes_to_the_waiter_not_to_a_newcomer(
    queue_class: type[AsyncAdaptedQueue[str]], fair: bool
) -> None:
    queue = queue_class(maxsize=1)
    waiter = asyncio.create_task(greenlet_spawn(queue.get, True, 2.0))
    await asyncio.sleep(0.01)  # the waiter is queued
    queue.put_nowait("connection")
    # A request arriving now, before the woken waiter has run, asks without waiting:
    if fair:
        with pytest.raises(Empty):
            queue.get(block=False)
        assert await waiter == "connection"
    else:  # SQLAlchemy's own queue lets it barge in; the waiter goes back to waiting
        assert queue.get(block=False) == "connection"
        waiter.cancel()


async def test_the_engine_uses_the_fair_pool(postgres_url: str) -> None:
    database = Database(postgres_url)
    try:
        assert isinstance(database.engine.sync_engine.pool, FairAsyncPool)
    finally:
        await database.dispose()


async def test_a_waiter_that_gives_up_does_not_lose_the_connection(postgres_url: str) -> None:
    database = Database(postgres_url, PoolOptions(size=1, max_overflow=0, timeout=0.2))
    try:
        async with database.engine.connect():
            results = await asyncio.gather(
                *(database.ping() for _ in range(3)), return_exceptions=True
            )
        assert all(isinstance(result, Exception) for result in results)
        assert database.connections_in_use() == 0
        await database.ping()  # the one connection is still there to be had
    finally:
        await database.dispose()
