"""Fixtures for auth tests: a local Ed25519 key Better Auth could have made."""

from __future__ import annotations

import time
from functools import partial

import pytest

import taskql.app
from auth.sessions import SessionCheck
from tests.support.timing import FakeClock
from tests.support.tokens import LocalKey


@pytest.fixture(scope="module")
def local_key() -> LocalKey:
    return LocalKey()


@pytest.fixture
def session_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The clock of the session check of every app this test builds: cached answers age when
    the test advances it, not while it sleeps."""
    clock = FakeClock(now=time.time())  # a wall clock: session expiries are compared to it
    monkeypatch.setattr(taskql.app, "SessionCheck", partial(SessionCheck, clock=clock))
    return clock
