"""Events carry the version each change left the task at (SQLite and PostgreSQL, whose events
travel through NOTIFY)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.support.graphql import Tasks
from tests.support.live import LiveServer, Start
from tests.support.operations import TOGGLE_TASK
from tests.support.tokens import hs256_token
from tests.support.websocket import subscribed

VERSIONS = """subscription($userId: ID!) {
  taskEvents(userId: $userId) { type task { version completed } } }"""


async def test_each_event_shows_the_version_its_change_made(
    start: Start, database_url: str, http: Callable[[LiveServer], httpx.AsyncClient]
) -> None:
    server = await start(database_url)
    alice = Tasks(http(server), hs256_token("alice"), "alice")
    async with subscribed(server, alice.token, "alice", query=VERSIONS) as feed:
        task = await alice.create("Buy milk")
        await alice.update(task["id"], title="Buy oat milk")
        await alice.call(TOGGLE_TASK, id=task["id"], expectedVersion=2)
        await alice.call(TOGGLE_TASK, id=task["id"], expectedVersion=2)  # stale: no event
        events = [await feed.event() for _ in range(3)]
        await feed.nothing()
    assert [event["task"]["version"] for event in events] == [1, 2, 3]
    assert events[2]["task"]["completed"] is True
