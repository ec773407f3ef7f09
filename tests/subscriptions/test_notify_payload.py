"""NOTIFY payloads stay under PostgreSQL's 8000-byte limit; a task too big to travel is loaded."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from db.models import TaskState
from resolvers.events import ChangeKind, TaskChange
from taskql.live import postgres as events_pg
from taskql.live.postgres import MAX_PAYLOAD_BYTES, decode, encode
from tests.support.graphql import Tasks
from tests.support.live import Start
from tests.support.tokens import hs256_token
from tests.support.websocket import subscribed

NOW = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def change(
    title: str = "Buy milk", description: str | None = None, user: str = "alice"
) -> TaskChange:
    state = TaskState(7, user, title, description, True, NOW, NOW, 3)
    return TaskChange(ChangeKind.UPDATED, 7, user, state)


def test_a_small_change_travels_with_its_task() -> None:
    original = change(description="two litres, ünïcode ✓")
    payload = encode(original)
    assert payload is not None
    assert decode(payload) == original


def test_the_largest_possible_task_still_fits_by_travelling_as_its_id() -> None:
    # Control characters are the worst case: JSON spells each as six bytes (\\u0001).
    worst = change(title="\x01" * 200, description="\x01" * 1000, user="\x01" * 255)
    payload = encode(worst)
    assert payload is not None
    assert len(payload.encode()) <= MAX_PAYLOAD_BYTES < 8000
    assert decode(payload) == TaskChange(ChangeKind.UPDATED, 7, "\x01" * 255)


def test_a_deletion_travels_as_its_id() -> None:
    payload = encode(TaskChange.deleted(9, "alice"))
    assert payload is not None
    assert decode(payload) == TaskChange(ChangeKind.DELETED, 9, "alice")


async def test_a_task_too_large_to_travel_is_loaded_for_its_owner(
    start: Start, clean_postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events_pg, "MAX_PAYLOAD_BYTES", 80)  # only the head fits
    server = await start(clean_postgres)
    token = hs256_token("alice")
    async with (
        httpx.AsyncClient(base_url=server.http_url, trust_env=False) as http,
        subscribed(server, token, "alice") as feed,
    ):
        alice = Tasks(http, token, "alice")
        task = await alice.create("a title the payload has no room for")
        created = await feed.event()
        await alice.toggle(task["id"])
        toggled = await feed.event()
        await alice.delete(task["id"])
        deleted = await feed.event()
    assert created["task"]["title"] == "a title the payload has no room for"
    assert (toggled["type"], toggled["task"]["completed"]) == ("UPDATED", True)
    assert deleted == {"type": "DELETED", "taskId": task["id"], "task": None}
