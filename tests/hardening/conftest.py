"""Fixtures for hardening tests: in-process apps built with chosen settings, and a live server."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.apps import ClientFactory, factory, running_app
from tests.support.databases import sqlite_copy
from tests.support.processes import ServerProcess
from tests.support.taskql_serve import taskql_serve


@pytest.fixture
async def make_client(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[ClientFactory]:
    """Builds an app on a fresh SQLite copy with the settings given, and a client for it.

    Limits, CORS and observability never depend on the database engine, so SQLite is enough.
    """
    copies = itertools.count()

    def fresh_copy() -> str:
        return sqlite_copy(sqlite_template, tmp_path, f"taskql-{next(copies)}.db")

    async with factory(running_app, fresh_copy) as build:

        async def client(**overrides: Any) -> httpx.AsyncClient:
            return (await build(**overrides)).client

        yield client


@pytest.fixture(scope="package")
def live(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One `taskql serve` on PostgreSQL for the tests that need a real server process."""
    with taskql_serve(postgres_url, tmp_path_factory.mktemp("live")) as server:
        yield server


@pytest.fixture
def no_server_errors(server: ServerProcess) -> Iterator[None]:
    """Nothing the test did made the module's `server` log an error or answer a 5xx."""
    mark = server.log_mark()
    yield
    records = server.log_records(mark)
    assert not [r for r in records if r["level"] in ("error", "critical")], records
    assert not [r for r in records if r.get("status", 0) >= 500], records
