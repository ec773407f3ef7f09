"""Fixtures for subscription tests: real servers on loopback, one factory per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import httpx
import pytest

from tests.support.apps import factory
from tests.support.live import LiveServer, Start, serve


@pytest.fixture
async def start(sqlite_url: str) -> AsyncIterator[Start]:
    """`await start(database_url=..., **settings)`: servers that stop when the test ends.

    Authentication and transport do not depend on the database: SQLite unless a test says.
    """
    async with factory(serve, lambda: sqlite_url) as run:
        yield run


@pytest.fixture
async def http() -> AsyncIterator[Callable[[LiveServer], httpx.AsyncClient]]:
    async with AsyncExitStack() as stack:

        def client(server: LiveServer) -> httpx.AsyncClient:
            http_client = httpx.AsyncClient(base_url=server.http_url, trust_env=False, timeout=10)
            stack.push_async_callback(http_client.aclose)
            return http_client

        yield client
