"""Fixtures for auth tests: a local Ed25519 key Better Auth could have made."""

from __future__ import annotations

import pytest

from tests.support.tokens import LocalKey


@pytest.fixture(scope="module")
def local_key() -> LocalKey:
    return LocalKey()
