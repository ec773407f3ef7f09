"""Durable events (SPEC §7): resume after a cursor with no gap and no duplicate, commit order
per user across replicas, retention and CURSOR_EXPIRED.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from db.models import TaskEventRow, utcnow
from resolvers import event_log
from resolvers import tasks as store
from taskql.settings import Settings
from tests.support.apps import make_settings
from tests.support.graphql import data_of
from tests.support.live import LiveServer, serve
from tests.support.operations import CREATE_TASK, TOGGLE_TASK
from tests.support.pgbouncer import PgBouncer
from tests.support.tokens import hs256_token
from tests.support.websocket import RESUMABLE, subscribed, ws_client

WRITES = 50


async def send(server: LiveServer, user: str, query: str, **variables: Any) -> Any:
    async with httpx.AsyncClient(base_url=server.http_url, trust_env=False, timeout=10) as http:
        return await data_of(http, user, query, **variables)


async def create(server: LiveServer, user: str, title: str) -> str:
    data = await send(server, user, CREATE_TASK, input={"title": title})
    return str(data["createTask"]["id"])


@pytest.fixture
async def replicas(clean_postgres: str, pgbouncer: PgBouncer) -> AsyncIterator[list[LiveServer]]:
    """Three replicas behind one PgBouncer, each listening on its own direct connection."""
    settings = make_settings(
        pgbouncer.url_for(clean_postgres),
        db_pooler="pgbouncer",
        database_listen_url=clean_postgres,
    )
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(serve(settings)) for _ in range(3)]


@pytest.fixture
async def embedded(sqlite_url: str) -> AsyncIterator[LiveServer]:
    async with serve(make_settings(sqlite_url)) as server:
        yield server


async def disconnect_write_resume(servers: list[LiveServer]) -> None:
    """A subscriber sees one event, goes away while 50 writes happen through every server,
    and on resume gets all 50, in order, once, and then live ones again."""
    token = hs256_token("alice")
    first = servers[0]
    async with subscribed(first, token, "alice", RESUMABLE) as socket:
        await create(servers[-1], "alice", "seen live")
        cursor = (await socket.event())["cursor"]

    written = [await create(servers[n % len(servers)], "alice", f"away {n}") for n in range(WRITES)]

    async with subscribed(
        servers[1 % len(servers)], token, "alice", RESUMABLE, after=cursor
    ) as socket:
        resumed = [await socket.event() for _ in range(WRITES)]
        await socket.nothing()
        later = await create(servers[0], "alice", "live again")
        after_resume = await socket.event()

    assert [event["taskId"] for event in resumed] == written
    assert [event["task"]["title"] for event in resumed] == [f"away {n}" for n in range(WRITES)]
    assert len({event["cursor"] for event in resumed} | {cursor}) == WRITES + 1
    assert after_resume["taskId"] == later


async def test_three_replicas_behind_pgbouncer_resume_with_no_gap_and_no_duplicate(
    replicas: list[LiveServer],
) -> None:
    await disconnect_write_resume(replicas)


async def test_the_embedded_sqlite_resumes_the_same_way(embedded: LiveServer) -> None:
    await disconnect_write_resume([embedded])


async def test_concurrent_toggles_from_three_replicas_arrive_in_commit_order(
    replicas: list[LiveServer],
) -> None:
    """Each toggle takes the task's next version in commit order (the row lock): events in
    cursor order must show versions 2, 3, 4, ... exactly. A number taken before commit
    (a sequence, a timestamp) would put some of them out of order under this load."""
    task_id = await create(replicas[0], "alice", "contended")
    toggles = 60
    async with (
        subscribed(replicas[1], hs256_token("alice"), "alice", RESUMABLE) as live,
        subscribed(replicas[2], hs256_token("alice"), "alice", RESUMABLE, after=None) as other,
    ):
        await asyncio.gather(
            *(send(replicas[n % 3], "alice", TOGGLE_TASK, id=task_id) for n in range(toggles))
        )
        seen = [await live.event() for _ in range(toggles)]
        elsewhere = [await other.event() for _ in range(toggles)]
    assert [event["task"]["version"] for event in seen] == list(range(2, toggles + 2))
    assert elsewhere == seen  # every replica's subscriber, the same order

    # And the log replays them in that order too.
    async with ws_client(replicas[0]) as socket:
        assert (await socket.init({"token": hs256_token("alice")}))["type"] == "connection_ack"
        await socket.subscribe("alice", query=RESUMABLE, after=_first_cursor(seen))
        replayed = [await socket.event() for _ in range(toggles - 1)]
    assert replayed == seen[1:]


def _first_cursor(events: list[dict[str, Any]]) -> str:
    return str(events[0]["cursor"])


async def test_a_change_the_live_path_missed_is_read_from_the_log(embedded: LiveServer) -> None:
    """Numbers are dense per user: a gap means an event is missing, and it is fetched."""
    async with subscribed(embedded, hs256_token("alice"), "alice", RESUMABLE) as socket:
        async with embedded.app.state.services.database.session() as session:
            unseen = await store.create_task(session, None, "alice", "not published", None)
        published = await create(embedded, "alice", "published")
        events = [await socket.event() for _ in range(2)]
        await socket.nothing()
    assert [event["taskId"] for event in events] == [str(unseen.id), published]


async def test_a_cursor_older_than_retention_is_cursor_expired(embedded: LiveServer) -> None:
    token = hs256_token("alice")
    async with subscribed(embedded, token, "alice", RESUMABLE) as socket:
        await create(embedded, "alice", "old")
        cursor = (await socket.event())["cursor"]
    await create(embedded, "alice", "newer")
    engine = embedded.app.state.services.database.engine
    assert await event_log.prune(engine, utcnow() + timedelta(seconds=1)) == 2

    async with ws_client(embedded) as socket:
        await socket.init({"token": token})
        await socket.subscribe("alice", query=RESUMABLE, after=cursor)
        refused = await socket.receive()
    assert refused["type"] == "error", refused
    assert refused["payload"][0]["extensions"]["code"] == "CURSOR_EXPIRED"
    assert embedded.events.bus.subscribers("alice") == 0


@pytest.mark.parametrize("cursor", ["garbage", "ZTE6OTk5OTk", ""])
async def test_a_cursor_we_did_not_hand_out_is_bad_user_input(
    embedded: LiveServer, cursor: str
) -> None:
    async with ws_client(embedded) as socket:
        await socket.init({"token": hs256_token("alice")})
        await socket.subscribe("alice", query=RESUMABLE, after=cursor)
        refused = await socket.receive()
    assert refused["type"] == "error", refused
    assert refused["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert embedded.events.bus.subscribers("alice") == 0


def test_retention_is_a_setting() -> None:
    settings: Settings = make_settings("sqlite+aiosqlite:///:memory:")
    assert settings.events_retention_seconds == 86_400


async def test_retention_removes_only_events_older_than_it(embedded: LiveServer) -> None:
    """What the background pruner runs every few seconds (Periodic "events-retention")."""
    await create(embedded, "alice", "old")
    await create(embedded, "alice", "recent")
    engine = embedded.app.state.services.database.engine
    async with engine.begin() as connection:
        await connection.execute(
            update(TaskEventRow)
            .where(TaskEventRow.seq == 1)
            .values(created_at=utcnow() - timedelta(days=2))
        )
    assert await event_log.prune_expired(engine, 86_400) == 1
    where = await event_log.position(engine, "alice")
    assert (where.last, where.pruned_through) == (2, 1)
