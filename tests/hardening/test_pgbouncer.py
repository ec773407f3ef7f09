"""Behind PgBouncer in transaction mode (SPEC §5): how replicas share one PostgreSQL.

A real PgBouncer (Debian's, stock settings plus `pool_mode = transaction`) between taskql and
the tests' PostgreSQL. With `DB_POOLER=pgbouncer` every operation works under concurrency from
several replicas, nothing acknowledged is lost, statements stay bounded, and live events reach
every replica's subscribers through the direct `DATABASE_LISTEN_URL`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import text

from db.session import Database, PoolOptions
from tests.support.apps import RunningApp, factory, make_settings, running_app
from tests.support.databases import plain_url
from tests.support.graphql import codes, data_of
from tests.support.live import LiveServer, serve
from tests.support.operations import CREATE_TASK, DELETE_TASK, LIST_TASKS, TOGGLE_TASK, UPDATE_TASK
from tests.support.pgbouncer import PgBouncer
from tests.support.tcp_proxy import TcpProxy
from tests.support.tokens import hs256_token
from tests.support.websocket import subscribed

Build = Callable[..., Awaitable[RunningApp]]
USERS = 12
ROUNDS = 6


def pooled(bouncer: PgBouncer, postgres_url: str) -> dict[str, Any]:
    return {
        "database_url": bouncer.url_for(postgres_url),
        "db_pooler": "pgbouncer",
        "database_listen_url": postgres_url,
        "db_connect_timeout_seconds": 2.0,
    }


@pytest.fixture
async def build(clean_postgres: str) -> AsyncIterator[Build]:
    async with factory(running_app, lambda: clean_postgres) as make:
        yield make


async def test_without_db_pooler_pgbouncer_refuses_the_connection_and_that_is_a_503(
    build: Build, pgbouncer: PgBouncer, clean_postgres: str
) -> None:
    """asyncpg's statement_timeout startup parameter is refused by PgBouncer: the database is
    unusable as configured, which is a 503 (retry, and page someone), never a 500."""
    taskql = await build(database_url=pgbouncer.url_for(clean_postgres))
    variables = {"userId": "alice", "input": {"title": "one"}}
    response = await taskql.query(CREATE_TASK, variables, token=hs256_token("alice"))
    assert response.status_code == 503, response.text
    assert codes(response) == ["SERVICE_UNAVAILABLE"]
    assert response.headers["retry-after"]


async def test_every_operation_from_two_replicas_at_once_works_and_nothing_is_lost(
    build: Build, pgbouncer: PgBouncer, clean_postgres: str
) -> None:
    replicas = [await build(**pooled(pgbouncer, clean_postgres)) for _ in range(2)]
    expected: dict[str, dict[int, bool]] = {}

    async def user(index: int) -> None:
        name = f"user-{index}"
        rng = random.Random(index)  # noqa: S311 - a test's schedule, not a secret
        owned: dict[int, bool] = {}
        for round_ in range(ROUNDS):
            http = rng.choice(replicas).client
            created = await data_of(http, name, CREATE_TASK, input={"title": f"task {round_}"})
            owned[int(created["createTask"]["id"])] = False
            task_id = str(rng.choice(sorted(owned)))
            toggled = await data_of(http, name, TOGGLE_TASK, id=task_id)
            owned[int(task_id)] = toggled["toggleTaskComplete"]["completed"]
            await data_of(http, name, UPDATE_TASK, id=task_id, input={"title": f"renamed {round_}"})
            page = await data_of(http, name, LIST_TASKS, first=100)
            assert page["tasks"]["total"] == len(owned)
            if round_ % 3 == 2:
                gone = rng.choice(sorted(owned))
                await data_of(http, name, DELETE_TASK, id=str(gone))
                del owned[gone]
        expected[name] = owned

    await asyncio.gather(*(user(index) for index in range(USERS)))

    connection = await asyncpg.connect(plain_url(clean_postgres))
    try:
        rows = await connection.fetch("SELECT user_id, id, completed FROM tasks")
    finally:
        await connection.close()
    stored: dict[str, dict[int, bool]] = {}
    for row in rows:
        stored.setdefault(row["user_id"], {})[row["id"]] = row["completed"]
    assert stored == expected


async def test_the_statement_timeout_still_bounds_a_statement_behind_pgbouncer(
    pgbouncer: PgBouncer, postgres_url: str
) -> None:
    database = Database(
        pgbouncer.url_for(postgres_url), PoolOptions(statement_timeout=0.5, pooler="pgbouncer")
    )
    marker = f"taskql-timeout-{time.monotonic_ns()}"
    try:
        began = time.monotonic()
        with pytest.raises((TimeoutError, asyncio.TimeoutError)):
            async with database.engine.connect() as connection:
                await connection.execute(text(f"SELECT pg_sleep(30) /* {marker} */"))
        assert time.monotonic() - began < 3
    finally:
        await database.dispose()
    # Cancelled on the server too, not only abandoned by the client.
    direct = await asyncpg.connect(plain_url(postgres_url))
    try:
        for _ in range(40):
            running = await direct.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE $1 AND pid <> "
                "pg_backend_pid()",
                f"%{marker}%",
            )
            if running == 0:
                break
            await asyncio.sleep(0.05)
        assert running == 0
    finally:
        await direct.close()


async def test_pgbouncer_going_away_is_503_then_service_resumes(
    build: Build, pgbouncer: PgBouncer, clean_postgres: str
) -> None:
    proxy = TcpProxy("127.0.0.1", pgbouncer.port)
    await proxy.start()
    try:
        settings = pooled(pgbouncer, clean_postgres)
        settings["database_url"] = settings["database_url"].replace(
            f":{pgbouncer.port}/", f":{proxy.port}/"
        )
        taskql = await build(**settings, db_ping_after_idle_seconds=0)
        await data_of(taskql.client, "alice", CREATE_TASK, input={"title": "before"})

        await proxy.cut()
        variables = {"userId": "alice", "input": {"title": "during"}}
        response = await taskql.query(CREATE_TASK, variables, token=hs256_token("alice"))
        assert response.status_code == 503, response.text

        await proxy.restore()
        await data_of(taskql.client, "alice", CREATE_TASK, input={"title": "after"})
        page = await data_of(taskql.client, "alice", LIST_TASKS)
        assert sorted(item["title"] for item in page["tasks"]["items"]) == ["after", "before"]
    finally:
        await proxy.close()


async def test_subscribers_on_three_replicas_see_writes_made_through_each_other(
    pgbouncer: PgBouncer, clean_postgres: str
) -> None:
    options = pooled(pgbouncer, clean_postgres)
    settings = make_settings(options.pop("database_url"), **options)
    async with serve(settings) as one, serve(settings) as two, serve(settings) as three:
        replicas: list[LiveServer] = [one, two, three]
        token = hs256_token("alice")
        async with (
            subscribed(one, token, "alice") as first,
            subscribed(two, token, "alice") as second,
            subscribed(three, token, "alice") as third,
        ):
            created: list[str] = []
            for index, replica in enumerate(replicas):
                async with httpx.AsyncClient(base_url=replica.http_url, trust_env=False) as http:
                    title = {"title": f"via replica {index}"}
                    data = await data_of(http, "alice", CREATE_TASK, input=title)
                    created.append(data["createTask"]["id"])
            for socket in (first, second, third):
                seen = [(await socket.event())["taskId"] for _ in created]
                assert seen == created


async def test_without_a_listen_url_replicas_poll_the_event_log(
    pgbouncer: PgBouncer, clean_postgres: str
) -> None:
    options = pooled(pgbouncer, clean_postgres)
    del options["database_listen_url"]
    settings = make_settings(options.pop("database_url"), **options, events_poll_seconds=0.1)
    async with serve(settings) as one, serve(settings) as two:
        token = hs256_token("alice")
        async with subscribed(one, token, "alice") as socket:
            await asyncio.sleep(0.3)  # a poll round sees alice's subscriber
            async with httpx.AsyncClient(base_url=two.http_url, trust_env=False) as http:
                data = await data_of(http, "alice", CREATE_TASK, input={"title": "polled"})
            event = await socket.event(wait=3)
    assert event["taskId"] == data["createTask"]["id"]


def test_db_pooler_needs_postgresql_and_a_listen_url_that_is_postgresql() -> None:
    postgres = "postgresql://postgres@127.0.0.1:6432/test"
    assert make_settings(postgres, db_pooler="pgbouncer").listen_url == (
        "postgresql+asyncpg://postgres@127.0.0.1:6432/test"  # unused: events are polled
    )
    with pytest.raises(ValidationError, match="needs a PostgreSQL DATABASE_URL"):
        make_settings("sqlite+aiosqlite:///:memory:", db_pooler="pgbouncer")
    with pytest.raises(ValidationError, match="must be a PostgreSQL URL"):
        make_settings(
            postgres, db_pooler="pgbouncer", database_listen_url="sqlite+aiosqlite:///x.db"
        )
    settings = make_settings(
        postgres, db_pooler="pgbouncer", database_listen_url="postgres://postgres@db:5432/test"
    )
    assert settings.listen_url == "postgresql+asyncpg://postgres@db:5432/test"
