"""The pool serves waiting requests in arrival order: a busy pool starves nobody into a 503."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, text
from sqlalchemy.util import greenlet_spawn
from sqlalchemy.util.queue import AsyncAdaptedQueue, Empty

import db.pool
from db.pool import FairAsyncPool, FairQueue
from db.session import Database, PoolOptions
from tests.support.timing import FakeClock


@pytest.mark.parametrize(("queue_class", "fair"), [(FairQueue, True), (AsyncAdaptedQueue, False)])
async def test_a_returned_connection_goes_to_the_waiter_not_to_a_newcomer(
    queue_class: type[AsyncAdaptedQueue[str]], fair: bool
) -> None:
    queue = queue_class(maxsize=1)
    waiter = asyncio.create_task(greenlet_spawn(queue.get, True, 2.0))
    await asyncio.sleep(0)  # one turn of the loop: the waiter runs until it waits, queued
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


async def test_overflow_connections_are_reused_then_closed_once_idle(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Load around the pool size must not open a connection per request (it did: about 15 new
    PostgreSQL backends a second under 32 clients); a quieter load gives the extra ones back."""
    clock = FakeClock()  # the pool's idle times: 0.5 s pass when the test says, never by chance
    monkeypatch.setattr(db.pool, "time", clock)
    database = Database(postgres_url, PoolOptions(size=1, max_overflow=2, overflow_idle=0.5))
    pool = database.engine.sync_engine.pool
    connects = 0

    def connected(*_: object) -> None:
        nonlocal connects
        connects += 1

    event.listen(database.engine.sync_engine, "connect", connected)

    async def hold() -> int:
        async with database.engine.connect() as connection:
            await asyncio.sleep(0.05)  # all three are out at once
            return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())

    try:
        pids: set[int] = set()
        for _ in range(5):
            pids.update(await asyncio.gather(hold(), hold(), hold()))
        assert connects == 3 and len(pids) == 3
        assert pool.checkedin() == 3 and database.connections_in_use() == 0

        clock.advance(0.6)
        kept = await hold()  # the newest idle one is handed out; the two idle ones are closed
        assert pool.checkedin() == 1 and kept in pids
        async with database.engine.connect() as connection:
            assert connects == 3  # the one that is left is reused
            alive = await connection.execute(
                text("SELECT pid FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                {"pids": sorted(pids)},
            )
            assert [row.pid for row in alive] == [kept]
    finally:
        await database.dispose()
