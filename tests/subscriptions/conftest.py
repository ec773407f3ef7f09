"""Fixtures for subscription tests: HTTP clients to live servers (`start` is in tests/)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import httpx
import pytest

from tests.support.live import LiveServer


@pytest.fixture
async def http() -> AsyncIterator[Callable[[LiveServer], httpx.AsyncClient]]:
    async with AsyncExitStack() as stack:

        def client(server: LiveServer) -> httpx.AsyncClient:
            http_client = httpx.AsyncClient(base_url=server.http_url, trust_env=False, timeout=10)
            stack.push_async_callback(http_client.aclose)
            return http_client

        yield client
