"""PostgreSQL faults for real: unreachable, black-holed, saturated, backends killed.

Every request gets 200 or a 503 with Retry-After within a bounded time (never a 500 or a hang),
/readyz follows the database, the service recovers by itself, and no acknowledged write is lost.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import make_url, text

from db.session import create_engine
from tests.support.apps import RunningApp, make_settings, running_app
from tests.support.graphql import codes, gql
from tests.support.operations import CREATE_TASK, LIST_TASKS
from tests.support.tcp_proxy import TcpProxy
from tests.support.timing import eventually
from tests.support.tokens import hs256_token

# Faults must surface within connect + pool + statement timeouts below, plus scheduling slack.
FAULT_SETTINGS = {
    "db_connect_timeout_seconds": 1.0,
    "db_pool_timeout_seconds": 1.0,
    "db_statement_timeout_seconds": 2.0,
    "db_pool_size": 4,
    "db_max_overflow": 0,
}
BOUND_SECONDS = 5.0


@dataclass
class Writers:
    """Clients creating tasks in a loop, remembering what the server acknowledged."""

    client: httpx.AsyncClient
    user: str = field(default_factory=lambda: f"fault-{uuid.uuid4().hex[:8]}")
    acknowledged: dict[int, str] = field(default_factory=dict)
    outcomes: list[tuple[float, int, float]] = field(default_factory=list)  # at, status, took
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, writer: int) -> None:
        token = hs256_token(self.user)
        for sequence in range(10_000):
            if self.stop.is_set():
                return
            title = f"writer {writer} #{sequence}"
            variables = {"userId": self.user, "input": {"title": title}}
            started = time.monotonic()
            response = await gql(self.client, CREATE_TASK, variables, token=token)
            self.outcomes.append((started, response.status_code, time.monotonic() - started))
            if response.status_code == 200:
                task = response.json()["data"]["createTask"]
                self.acknowledged[int(task["id"])] = task["title"]
            else:
                assert response.status_code == 503, response.text
                assert response.headers["retry-after"]
                assert codes(response) == ["SERVICE_UNAVAILABLE"]
            await asyncio.sleep(0.02)  # a steady stream of writes, not a flood

    def after(self, moment: float) -> list[int]:
        """Statuses of the requests that started after `moment`."""
        return [status for at, status, _ in self.outcomes if at >= moment]

    def ended_after(self, moment: float) -> list[int]:
        """Statuses of the requests still running at `moment` or started later."""
        return [status for at, status, took in self.outcomes if at + took >= moment]

    async def wait_for_success_after(self, moment: float, within: float = 10.0) -> float:
        await eventually(
            lambda: 200 in self.after(moment),
            within=within,
            message="the service did not recover by itself",
        )
        return time.monotonic() - moment

    async def wait_for_refusal_after(self, moment: float) -> None:
        """Until a request running at `moment` or later was answered 503."""
        await eventually(
            lambda: 503 in self.ended_after(moment),
            within=BOUND_SECONDS + 2,
            message="the fault never reached a request",
        )

    async def wait_for_acknowledged(self, count: int) -> None:
        await eventually(
            lambda: len(self.acknowledged) >= count,
            within=BOUND_SECONDS,
            message=f"fewer than {count} writes were acknowledged",
        )


@asynccontextmanager
async def writing(client: httpx.AsyncClient, count: int = 4) -> AsyncIterator[Writers]:
    writers = Writers(client)
    tasks = [asyncio.create_task(writers.run(index)) for index in range(count)]
    try:
        yield writers
    finally:
        writers.stop.set()
        await asyncio.gather(*tasks)


def faulty(database_url: str, **overrides: float) -> AbstractAsyncContextManager[RunningApp]:
    """taskql on `database_url` with the short timeouts faults must surface within."""
    return running_app(make_settings(database_url, **{**FAULT_SETTINGS, **overrides}))


@pytest.fixture
async def proxy(postgres_url: str) -> AsyncIterator[TcpProxy]:
    server = make_url(postgres_url)
    tcp = TcpProxy(server.host or "127.0.0.1", server.port or 5432)
    await tcp.start()
    try:
        yield tcp
    finally:
        await tcp.close()


def through(postgres_url: str, proxy: TcpProxy) -> str:
    return make_url(postgres_url).set(port=proxy.port).render_as_string(hide_password=False)


@asynccontextmanager
async def writing_through(
    postgres_url: str, proxy: TcpProxy
) -> AsyncIterator[tuple[httpx.AsyncClient, Writers]]:
    """taskql on PostgreSQL through `proxy`, its writers under way: more than ten writes in."""
    async with faulty(through(postgres_url, proxy)) as taskql, writing(taskql.client) as writers:
        await writers.wait_for_acknowledged(11)
        yield taskql.client, writers


async def stored_tasks(postgres_url: str, user: str) -> dict[int, str]:
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT id, title FROM tasks WHERE user_id = :user"), {"user": user}
            )
            return {int(row.id): str(row.title) for row in rows}
    finally:
        await engine.dispose()


async def readyz_is(client: httpx.AsyncClient, status: int) -> bool:
    return (await client.get("/readyz")).status_code == status


async def timed(call: Callable[[], Awaitable[httpx.Response]]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await call()
    return response, time.monotonic() - started


def assert_bounded(writers: Writers) -> None:
    statuses = {status for _, status, _ in writers.outcomes}
    assert statuses <= {200, 503}, statuses
    slowest = max(took for _, _, took in writers.outcomes)
    assert slowest < BOUND_SECONDS, f"a request took {slowest:.1f}s"


async def test_unreachable_database_is_503_then_recovers_with_every_acknowledged_write(
    postgres_url: str, proxy: TcpProxy
) -> None:
    async with writing_through(postgres_url, proxy) as (client, writers):
        await proxy.cut()
        cut_at = time.monotonic()
        await writers.wait_for_refusal_after(cut_at)
        ready, took = await timed(lambda: client.get("/readyz"))
        assert ready.status_code == 503
        assert ready.headers["retry-after"]
        assert took < BOUND_SECONDS
        await proxy.restore()
        restored_at = time.monotonic()
        recovery = await writers.wait_for_success_after(restored_at)
        await eventually(
            lambda: readyz_is(client, 200), within=BOUND_SECONDS, message="/readyz stayed 503"
        )
    assert_bounded(writers)
    assert 503 in writers.ended_after(cut_at)
    assert recovery < 5.0
    stored = await stored_tasks(postgres_url, writers.user)
    assert len(writers.acknowledged) > 10
    assert writers.acknowledged.items() <= stored.items(), "an acknowledged write was lost"


async def test_black_holed_database_is_503_within_the_timeouts_then_recovers(
    postgres_url: str, proxy: TcpProxy
) -> None:
    async with writing_through(postgres_url, proxy) as (client, writers):
        proxy.stall()
        stalled_at = time.monotonic()
        ready, took = await timed(lambda: client.get("/readyz"))
        assert ready.status_code == 503
        assert took < 2.0  # the probe is bounded by the connect timeout
        await writers.wait_for_refusal_after(stalled_at)
        await proxy.restore()
        await writers.wait_for_success_after(time.monotonic())
    assert_bounded(writers)
    assert 503 in writers.ended_after(stalled_at)
    stored = await stored_tasks(postgres_url, writers.user)
    assert writers.acknowledged.items() <= stored.items(), "an acknowledged write was lost"


async def test_an_exhausted_pool_is_503_after_the_pool_timeout(postgres_url: str) -> None:
    async with faulty(
        postgres_url, db_pool_size=1, db_max_overflow=0, db_pool_timeout_seconds=0.5
    ) as taskql:
        client = taskql.client
        token = hs256_token("pool-user")
        database = taskql.app.state.services.database
        async with database.engine.connect():  # another request holds the only connection
            response, took = await timed(
                lambda: gql(client, LIST_TASKS, {"userId": "pool-user"}, token=token)
            )
            ready = await client.get("/readyz")
        assert response.status_code == 503
        assert response.headers["retry-after"]
        assert codes(response) == ["SERVICE_UNAVAILABLE"]
        assert 0.4 < took < 2.0
        assert ready.status_code == 503
        recovered = await gql(client, LIST_TASKS, {"userId": "pool-user"}, token=token)
        assert recovered.status_code == 200
        assert (await client.get("/readyz")).status_code == 200


async def _terminate_taskql_backends(postgres_url: str) -> int:
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as admin:
            killed = await admin.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = 'taskql' "
                    "AND pid <> pg_backend_pid()"
                )
            )
            return int(killed or 0)
    finally:
        await engine.dispose()


async def _after_terminating_backends(postgres_url: str, **overrides: float) -> list[int]:
    """Statuses of concurrent reads right after every pooled connection was killed."""
    async with faulty(postgres_url, **overrides) as taskql:
        client = taskql.client
        token = hs256_token("kill-user")
        warm = await asyncio.gather(
            *(gql(client, LIST_TASKS, {"userId": "kill-user"}, token=token) for _ in range(4))
        )
        assert all(response.is_success for response in warm)
        assert await _terminate_taskql_backends(postgres_url) > 0
        results = await asyncio.gather(
            *(gql(client, LIST_TASKS, {"userId": "kill-user"}, token=token) for _ in range(8))
        )
        for response in results:
            if response.status_code == 503:
                assert response.headers["retry-after"]
                assert codes(response) == ["SERVICE_UNAVAILABLE"]
        again = await gql(client, LIST_TASKS, {"userId": "kill-user"}, token=token)
        assert again.status_code == 200, "the pool did not replace its dead connections"
        return [response.status_code for response in results]


async def test_killed_backends_cost_at_most_a_retry_and_never_a_500(postgres_url: str) -> None:
    """A connection used moments ago is not pinged (the hot path stays at one round trip)."""
    statuses = await _after_terminating_backends(postgres_url)
    assert set(statuses) <= {200, 503}


async def test_idle_connections_are_pinged_so_killed_backends_cost_nothing(
    postgres_url: str,
) -> None:
    statuses = await _after_terminating_backends(postgres_url, db_ping_after_idle_seconds=0)
    assert statuses == [200] * 8
