"""Twin apps for comparing compiled plans with the general path: one with COMPILED_PLANS on, one
with it off, each on its own database, both seeded alike and sent the same requests in lockstep.

Two databases rather than one rolled back: each app's writes stay in its own database, so both
start every request from equal states (by induction: equal seeds, the same requests one at a
time, and a clock both read the same time from), and the states can be compared afterwards.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

import resolvers.tasks
from db.models import Task
from schema.plans import PlanCache, PlanStats
from tests.support import databases
from tests.support.apps import RunningApp, make_settings, running_app
from tests.support.rows import engine_for
from tests.support.tokens import hs256_token

EPOCH = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
USERS = ("ann", "ben")
TOKENS = {user: hs256_token(user, ttl=3600) for user in USERS}
NO_LIMITS = {"rate_limit": "", "rate_limit_mutations": "", "rate_limit_anonymous": ""}


class Clock:
    """resolvers.tasks' `utcnow`, set by the test: a write's timestamps are equal in both apps
    because both read the time the test set for that request."""

    def __init__(self) -> None:
        self.now = EPOCH

    def __call__(self) -> datetime:
        return self.now

    def set(self, tick: int) -> None:
        self.now = EPOCH + timedelta(seconds=tick, microseconds=tick * 7)


@dataclass(frozen=True)
class Request:
    """One POST (or GET) to /graphql."""

    query: str
    variables: dict[str, Any] | None = None
    operation_name: str | None = None
    user: str | None = "ann"  # whose token is sent; None: no Authorization header
    accept: str | None = None
    get: bool = False

    def headers(self, request_id: str) -> dict[str, str]:
        # The same request id for both apps: a masked 500 names it in its body.
        headers = {"x-request-id": request_id}
        if self.user is not None:
            headers["authorization"] = f"Bearer {TOKENS[self.user]}"
        if self.accept is not None:
            headers["accept"] = self.accept
        return headers

    async def send(self, client: httpx.AsyncClient, request_id: str) -> httpx.Response:
        body: dict[str, Any] = {"query": self.query}
        if self.variables is not None:
            body["variables"] = self.variables
        if self.operation_name is not None:
            body["operationName"] = self.operation_name
        if self.get:
            params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
            return await client.get("/graphql", params=params, headers=self.headers(request_id))
        return await client.post("/graphql", json=body, headers=self.headers(request_id))


@dataclass
class Side:
    app: RunningApp
    engine: AsyncEngine
    url: str

    @property
    def stats(self) -> PlanStats | None:
        cache = plan_cache(self.app.app)
        return cache.stats if cache is not None else None


@dataclass
class Twins:
    on: Side  # COMPILED_PLANS=true
    off: Side  # COMPILED_PLANS=false: the general path, the reference
    clock: Clock
    ticks: int = 0
    planned: set[str] = field(default_factory=set)  # documents known to have a plan

    async def reset(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Both databases emptied and given `rows`; the ids they got (the same in both)."""
        ids = [await _reseed(side, rows) for side in (self.on, self.off)]
        assert ids[0] == ids[1]
        return ids[0]

    async def send(self, request: Request) -> tuple[httpx.Response, httpx.Response]:
        self.ticks += 1
        answers = []
        for side in (self.on, self.off):
            self.clock.set(self.ticks)
            answers.append(await request.send(side.app.client, f"plans-{self.ticks}"))
        return answers[0], answers[1]

    async def states(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        found = []
        for side in (self.on, self.off):
            async with side.engine.connect() as connection:
                rows = await connection.execute(select(Task.__table__).order_by(Task.id))
                found.append([tuple(row) for row in rows])
        return found[0], found[1]


def plan_cache(app: FastAPI) -> PlanCache | None:
    """The plan cache of the app's GraphQL schema (None when plans are off)."""
    for route in app.router.routes:
        router = getattr(getattr(route, "endpoint", None), "__self__", None)
        schema = getattr(router, "schema", None)
        if schema is not None:
            cache: PlanCache | None = schema.execution_context_class.plans
            return cache
    raise LookupError("no GraphQL route")


async def _reseed(side: Side, rows: Sequence[dict[str, Any]]) -> list[int]:
    async with side.engine.begin() as connection:
        if side.url.startswith("sqlite"):
            await connection.execute(delete(Task))  # no AUTOINCREMENT: ids start at 1 again
        else:
            await connection.execute(text("TRUNCATE tasks, idempotency_keys RESTART IDENTITY"))
        ids = []
        for row in rows:
            inserted = await connection.execute(insert(Task).values(**row).returning(Task.id))
            ids.append(int(inserted.scalar_one()))
    return ids


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    frozen = Clock()
    monkeypatch.setattr(resolvers.tasks, "utcnow", frozen)
    yield frozen


@pytest.fixture(params=["sqlite", "postgresql"])
async def twins(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path, clock: Clock
) -> AsyncIterator[Twins]:
    async with AsyncExitStack() as stack:
        if request.param == "sqlite":
            urls = [
                databases.sqlite_copy(sqlite_template, tmp_path, f"{name}.db")
                for name in ("on", "off")
            ]
        else:
            urls = []
            for _ in range(2):
                url = await databases.create_database("taskql_plans", migrate=True)
                stack.push_async_callback(databases.drop_database, url)
                urls.append(url)
        sides = []
        for url, plans in zip(urls, (True, False), strict=True):
            app = await stack.enter_async_context(
                running_app(make_settings(url, compiled_plans=plans, **NO_LIMITS))
            )
            engine = await stack.enter_async_context(engine_for(url))
            sides.append(Side(app, engine, url))
        yield Twins(sides[0], sides[1], clock)
