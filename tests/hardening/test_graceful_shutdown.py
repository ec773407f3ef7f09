"""SIGTERM: new connections are refused, the in-flight request finishes 200, the process exits 0."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.session import create_engine
from tests.support.operations import CREATE_TASK
from tests.support.taskql_serve import taskql_serve
from tests.support.timing import eventually
from tests.support.tokens import hs256_token


async def test_sigterm_lets_the_in_flight_request_finish_then_exits_cleanly(
    postgres_url: str, tmp_path: Path
) -> None:
    server = taskql_serve(postgres_url, tmp_path).start()
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as blocker, httpx.AsyncClient(base_url=server.url) as http:
            # A table lock makes the next write wait in the database: a slow request, for real.
            transaction = await blocker.begin()
            await blocker.execute(text("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE"))
            slow = asyncio.create_task(
                http.post(
                    "/graphql",
                    json={
                        "query": CREATE_TASK,
                        "variables": {"userId": "drain", "input": {"title": "in flight"}},
                    },
                    headers={"authorization": f"Bearer {hs256_token('drain')}"},
                    timeout=30,
                )
            )
            await _until_waiting_on_the_lock(engine)
            server.terminate()
            await asyncio.sleep(0.5)  # on purpose: time in which a server that quits would quit
            assert server.process.poll() is None, "the server quit with a request in flight"
            refused = await _connect_refused(server.url)
            await transaction.rollback()  # the lock goes; the write can proceed
            response = await slow
        exit_code = await asyncio.to_thread(server.wait, 15)
    finally:
        await engine.dispose()
        server.stop()
    assert refused, "the server kept accepting connections after SIGTERM"
    assert response.status_code == 200, response.text
    assert response.json()["data"]["createTask"]["title"] == "in flight"
    assert exit_code == 0
    records = server.log_records()
    messages = [record["message"] for record in records]
    assert "Application shutdown complete." in messages  # lifespan ran: the pool was disposed
    assert [record for record in records if record["level"] in ("error", "critical")] == []


async def _until_waiting_on_the_lock(engine: AsyncEngine) -> None:
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name = 'taskql' AND wait_event_type = 'Lock'"
    )

    async def waiting() -> bool:
        async with engine.connect() as probe:
            return bool(await probe.scalar(query))

    await eventually(waiting, within=10, message="the request never reached the database")


async def _connect_refused(url: str) -> bool:
    try:
        async with httpx.AsyncClient(base_url=url) as fresh:
            await fresh.get("/healthz", timeout=2)
    except httpx.ConnectError:
        return True
    return False
