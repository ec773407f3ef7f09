"""Fixtures for subscription tests: real servers on loopback, one factory per test."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import make_settings
from tests.subscriptions.live import LiveServer, serve

Start = Callable[..., Awaitable[LiveServer]]


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """Authentication and transport tests do not depend on the database: SQLite only."""
    target = tmp_path / "taskql.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture
async def start(sqlite_url: str) -> AsyncIterator[Start]:
    """`await start(database_url=..., **settings)`: servers that stop when the test ends."""
    async with AsyncExitStack() as stack:

        async def run(database_url: str | None = None, **overrides: Any) -> LiveServer:
            settings = make_settings(database_url or sqlite_url, **overrides)
            return await stack.enter_async_context(serve(settings))

        yield run


@pytest.fixture
async def http() -> AsyncIterator[Callable[[LiveServer], httpx.AsyncClient]]:
    async with AsyncExitStack() as stack:

        def client(server: LiveServer) -> httpx.AsyncClient:
            http_client = httpx.AsyncClient(base_url=server.http_url, trust_env=False, timeout=10)
            stack.push_async_callback(http_client.aclose)
            return http_client

        yield client
