"""taskEvents over a real socket, on SQLite and PostgreSQL: own events, in order, after commit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import httpx
import pytest
from sqlalchemy import text

from db.session import create_engine
from tests.support.graphql import Tasks
from tests.support.live import LiveServer, Start
from tests.support.tokens import hs256_token
from tests.support.websocket import WSClient, subscribed, ws_client

HttpFor = Callable[[LiveServer], httpx.AsyncClient]


@pytest.fixture
async def server(start: Start, database_url: str) -> LiveServer:
    # Bursts of hundreds of writes by one user in seconds: load, not a person, so no rate limit.
    return await start(
        database_url, ws_max_connections_per_user=60, rate_limit="", rate_limit_mutations=""
    )


@pytest.fixture
def alice(server: LiveServer, http: HttpFor) -> Tasks:
    return Tasks(http(server), hs256_token("alice"), "alice")


@pytest.fixture
def bob(server: LiveServer, http: HttpFor) -> Tasks:
    return Tasks(http(server), hs256_token("bob"), "bob")


async def test_own_events_arrive_in_commit_order_with_the_task_as_committed(
    server: LiveServer, alice: Tasks
) -> None:
    async with subscribed(server, alice.token, "alice") as feed:
        task = await alice.create("Buy milk")
        await alice.update(task["id"], title="Buy oat milk", description="two litres")
        await alice.toggle(task["id"])
        await alice.delete(task["id"])

        events = [await feed.event() for _ in range(4)]
        await feed.nothing()

    expected = {"id": task["id"], "userId": "alice", "title": "Buy milk", "description": None}
    assert events[0] == {
        "type": "CREATED",
        "taskId": task["id"],
        "task": {**expected, "completed": False},
    }
    assert events[1]["type"] == "UPDATED"
    assert events[1]["task"] == {
        **expected,
        "title": "Buy oat milk",
        "description": "two litres",
        "completed": False,
    }
    assert events[2]["type"] == "UPDATED"
    assert events[2]["task"]["completed"] is True
    assert events[3] == {"type": "DELETED", "taskId": task["id"], "task": None}


async def test_another_users_changes_never_reach_a_subscriber(
    server: LiveServer, alice: Tasks, bob: Tasks
) -> None:
    async with subscribed(server, bob.token, "bob") as bobs_feed:
        task = await alice.create("alice's secret")
        await alice.toggle(task["id"])
        await alice.delete(task["id"])
        await bob.create("bob's own")

        first = await bobs_feed.event()
        assert first["type"] == "CREATED"
        assert first["task"]["title"] == "bob's own"
        await bobs_feed.nothing()


async def test_a_subscription_to_another_users_id_is_forbidden(
    server: LiveServer, bob: Tasks
) -> None:
    async with ws_client(server) as client:
        assert (await client.init({"Authorization": f"Bearer {bob.token}"}))["type"] == (
            "connection_ack"
        )
        await client.subscribe("alice")
        refused = await client.receive()
    assert refused["type"] == "error"
    assert [error["extensions"]["code"] for error in refused["payload"]] == ["FORBIDDEN"]
    assert refused["payload"][0]["message"] == (
        "Access denied. You can only access your own resources."
    )
    assert server.events.bus.subscribers() == 0


@pytest.fixture
async def doomed_titles(database_url: str) -> AsyncIterator[str]:
    """A database rule that refuses tasks titled "doomed": on PostgreSQL only at COMMIT."""
    engine = create_engine(database_url)
    if database_url.startswith("sqlite"):
        statements = [
            "CREATE TRIGGER doomed BEFORE INSERT ON tasks WHEN NEW.title = 'doomed' "
            "BEGIN SELECT RAISE(ABORT, 'doomed'); END"
        ]
        cleanup = ["DROP TRIGGER IF EXISTS doomed"]
    else:
        statements = [
            "CREATE FUNCTION doomed() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN IF NEW.title = 'doomed' THEN RAISE EXCEPTION 'doomed'; END IF; "
            "RETURN NEW; END $$",
            "CREATE CONSTRAINT TRIGGER doomed AFTER INSERT ON tasks "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION doomed()",
        ]
        cleanup = ["DROP TRIGGER IF EXISTS doomed ON tasks", "DROP FUNCTION IF EXISTS doomed()"]
    async with engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))
    try:
        yield "doomed"
    finally:
        async with engine.begin() as connection:
            for statement in cleanup:
                await connection.execute(text(statement))
        await engine.dispose()


async def test_a_rolled_back_write_publishes_nothing(
    server: LiveServer, alice: Tasks, doomed_titles: str
) -> None:
    async with subscribed(server, alice.token, "alice") as feed:
        refused = await alice.call(
            'mutation($userId: ID!) { createTask(userId: $userId, input: {title: "doomed"}) '
            "{ id } }"
        )
        assert refused["data"] is None and refused["errors"], refused
        kept = await alice.create("kept")

        event = await feed.event()
        assert (event["type"], event["taskId"]) == ("CREATED", kept["id"])
        await feed.nothing()


async def test_fifty_subscribers_each_get_every_one_of_two_hundred_events(
    server: LiveServer, alice: Tasks
) -> None:
    subscribers, count = 50, 200
    ids_only = "subscription($userId: ID!) { taskEvents(userId: $userId) { taskId } }"
    async with AsyncExitStack() as stack:
        feeds = [
            await stack.enter_async_context(subscribed(server, alice.token, "alice", ids_only))
            for _ in range(subscribers)
        ]

        async def collect(feed: WSClient) -> list[str]:
            return [(await feed.event(wait=30))["taskId"] for _ in range(count)]

        readers = [asyncio.create_task(collect(feed)) for feed in feeds]
        written = [(await alice.create(f"task {number}"))["id"] for number in range(count)]
        received = await asyncio.gather(*readers)

    assert all(task_ids == written for task_ids in received)
