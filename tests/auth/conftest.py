"""Fixtures for auth tests: apps built per test on SQLite, and a local JWKS endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.auth.local_issuer import JwksServer, LocalKey


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    with JwksServer() as server:
        yield server


@pytest.fixture(scope="module")
def local_key() -> LocalKey:
    return LocalKey()
