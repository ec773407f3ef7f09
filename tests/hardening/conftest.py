"""Fixtures for hardening tests: in-process apps built with chosen settings, and a live server."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from taskql.app import create_app
from tests.conftest import make_settings
from tests.hardening import live_server

ClientFactory = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def make_client(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[ClientFactory]:
    """Builds an app on a fresh SQLite copy with the settings given, and a client for it.

    Limits, CORS and observability never depend on the database engine, so SQLite is enough.
    """
    async with AsyncExitStack() as stack:

        async def build(**overrides: Any) -> httpx.AsyncClient:
            target = tmp_path / f"taskql-{len(stack._exit_callbacks)}.db"
            shutil.copy(sqlite_template, target)
            database_url = overrides.pop("database_url", f"sqlite+aiosqlite:///{target}")
            app = create_app(make_settings(database_url, **overrides))
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            client = httpx.AsyncClient(transport=transport, base_url="http://taskql.test")
            return await stack.enter_async_context(client)

        yield build


@pytest.fixture(scope="package")
def live(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One `taskql serve` on PostgreSQL for the tests that need a real server process."""
    with live_server.running(postgres_url, tmp_path_factory.mktemp("live")) as server:
        yield server
