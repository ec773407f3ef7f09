"""Fixtures for auth tests: apps built per test on SQLite, and a local JWKS endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.auth.apps import AppFactory, app_factory, sqlite_copy
from tests.auth.local_issuer import JwksServer, LocalKey


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """Authentication never reaches the database, so these tests run on SQLite only."""
    return sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture
async def build_app(sqlite_url: str) -> AsyncIterator[AppFactory]:
    async with app_factory(sqlite_url) as build:
        yield build


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    with JwksServer() as server:
        yield server


@pytest.fixture(scope="module")
def local_key() -> LocalKey:
    return LocalKey()
