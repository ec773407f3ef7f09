"""Fixtures for the task API's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.apps import make_settings, running_app


@pytest.fixture
async def unlimited_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app without rate limits: for races of many more requests than a person
    sends (the rate limits have tests of their own)."""
    off = {"rate_limit": "", "rate_limit_mutations": "", "rate_limit_anonymous": ""}
    async with running_app(make_settings(database_url, **off)) as app:
        yield app.client
