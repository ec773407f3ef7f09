"""Fixtures for tests that need a real Better Auth issuer (see better_auth.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.support.better_auth import BetterAuthIssuer, ensure_installed


@pytest.fixture(scope="session")
def better_auth_install() -> Path:
    """The npm install of the pinned better-auth (fails, never skips, without Node/npm)."""
    return ensure_installed()


@pytest.fixture(scope="session")
def better_auth_issuer(better_auth_install: Path) -> Iterator[BetterAuthIssuer]:
    """One EdDSA issuer with Better Auth's defaults, shared by the whole session."""
    with BetterAuthIssuer(alg="EdDSA") as issuer:
        yield issuer


@pytest.fixture(scope="session")
def issuer_for(
    better_auth_issuer: BetterAuthIssuer,
) -> Iterator[Callable[[str], BetterAuthIssuer]]:
    """`issuer_for("RS256")`: one default-configured issuer per algorithm, started on first use
    and shared by the whole session (the EdDSA one is `better_auth_issuer`)."""
    started = {"EdDSA": better_auth_issuer}
    with ExitStack() as stack:

        def get(alg: str) -> BetterAuthIssuer:
            if alg not in started:
                started[alg] = stack.enter_context(BetterAuthIssuer(alg=alg))
            return started[alg]

        yield get
