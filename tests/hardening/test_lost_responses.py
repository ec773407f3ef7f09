"""A response lost on its way back after the commit: the retry with the same Idempotency-Key
gets the same task, and the database holds one (SQLite and PostgreSQL, over real sockets)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.apps import make_settings
from tests.support.live import serve
from tests.support.operations import CREATE_TASK
from tests.support.rows import tasks_of
from tests.support.tcp_proxy import TcpProxy
from tests.support.timing import eventually
from tests.support.tokens import hs256_token


@pytest.fixture
async def proxied(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, TcpProxy]]:
    """A real server behind a TCP proxy the test can cut, and a client going through it."""
    async with serve(make_settings(database_url)) as server:
        proxy = TcpProxy("127.0.0.1", server.port)
        await proxy.start()
        try:
            url = f"http://127.0.0.1:{proxy.port}"
            async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=10) as client:
                yield client, proxy
        finally:
            await proxy.close()


async def test_a_create_whose_response_was_lost_is_not_made_twice_by_its_retry(
    proxied: tuple[httpx.AsyncClient, TcpProxy], database_url: str
) -> None:
    client, proxy = proxied
    user, key = f"train-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())

    async def create() -> httpx.Response:
        return await client.post(
            "/graphql",
            json={"query": CREATE_TASK, "variables": {"userId": user, "input": {"title": "x"}}},
            headers={"authorization": f"Bearer {hs256_token(user)}", "idempotency-key": key},
        )

    proxy.hold_answers()
    sent = asyncio.create_task(create())

    async def committed() -> bool:
        return len(await tasks_of(database_url, user)) == 1

    await eventually(committed, within=10, message="the create never committed")
    await proxy.cut()  # the tunnel: the answer never arrives
    with pytest.raises(httpx.TransportError):
        await sent
    await proxy.restore()

    retried = await create()
    assert retried.status_code == 200, retried.text
    assert retried.headers["idempotent-replayed"] == "true"
    [row] = await tasks_of(database_url, user)
    assert retried.json()["data"]["createTask"]["id"] == str(row["id"])
