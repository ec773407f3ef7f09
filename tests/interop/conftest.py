"""Fixtures for tests that need a real Better Auth issuer (see better_auth.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.support import databases
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


@pytest.fixture(scope="module")
async def better_auth_database() -> AsyncIterator[str]:
    """An empty PostgreSQL database of Better Auth's own (the issuer's migrations fill it)."""
    url = await databases.create_database("better_auth")
    yield url
    await databases.drop_database(url)


@pytest.fixture(scope="module")
def sid_issuer(better_auth_install: Path, better_auth_database: str) -> Iterator[BetterAuthIssuer]:
    """Better Auth as SPEC §4 recommends it: sessions in PostgreSQL, `sid` in every token."""
    url = databases.plain_url(better_auth_database)
    with BetterAuthIssuer(alg="EdDSA", payload="sid", database_url=url) as issuer:
        yield issuer
