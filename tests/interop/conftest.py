"""Fixtures for tests that need a real Better Auth issuer (see better_auth.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.better_auth import BetterAuthIssuer, ensure_installed


@pytest.fixture(scope="session")
def better_auth_install() -> Path:
    """The npm install of the pinned better-auth (fails, never skips, without Node/npm)."""
    return ensure_installed()


@pytest.fixture(scope="session")
def better_auth_issuer(better_auth_install: Path) -> Iterator[BetterAuthIssuer]:
    """One EdDSA issuer with Better Auth's defaults, shared by the whole session."""
    with BetterAuthIssuer(alg="EdDSA") as issuer:
        yield issuer
