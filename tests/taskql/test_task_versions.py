"""Optimistic concurrency (SPEC §2, §3) on SQLite and PostgreSQL: every change moves a task's
version on by one, and a change made against a version the task has left changes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.support.graphql import Tasks
from tests.support.operations import DELETE_TASK, TOGGLE_TASK, UPDATE_TASK
from tests.support.rows import tasks_of
from tests.support.tokens import hs256_token


@pytest.fixture
def alice(client: httpx.AsyncClient) -> Tasks:
    return Tasks(client, hs256_token("alice"), "alice")


def conflict_version(body: dict[str, Any]) -> int:
    """The task's version, from an answer that is CONFLICT and nothing else."""
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["message"] == "Task was changed by another request."
    return int(error["extensions"]["currentVersion"])


async def test_a_task_starts_at_version_1_and_every_change_adds_one(alice: Tasks) -> None:
    task = await alice.create("Buy milk")
    assert task["version"] == 1
    updated = await alice.update(task["id"], title="Buy oat milk")
    assert updated["data"]["updateTask"]["version"] == 2
    toggled = await alice.toggle(task["id"])
    assert toggled["data"]["toggleTaskComplete"]["version"] == 3
    unchanged = await alice.update(task["id"])  # an empty PATCH still touches the task
    assert unchanged["data"]["updateTask"]["version"] == 4


@pytest.mark.parametrize(
    ("query", "extra"),
    [(UPDATE_TASK, {"input": {"title": "Mine"}}), (TOGGLE_TASK, {}), (DELETE_TASK, {})],
    ids=["update", "toggle", "delete"],
)
async def test_a_stale_expected_version_is_409_conflict_and_changes_nothing(
    client: httpx.AsyncClient, alice: Tasks, database_url: str, query: str, extra: dict[str, Any]
) -> None:
    task = await alice.create("Buy milk")
    await alice.update(task["id"], title="Changed elsewhere")  # now at version 2
    response = await client.post(
        "/graphql",
        json={
            "query": query,
            "variables": {"userId": "alice", "id": task["id"], "expectedVersion": 1, **extra},
        },  # fmt: skip
        headers={"authorization": f"Bearer {alice.token}"},
    )
    assert response.status_code == 409
    assert conflict_version(response.json()) == 2
    [row] = await tasks_of(database_url, "alice")
    assert (row["title"], row["completed"], row["version"]) == ("Changed elsewhere", False, 2)


async def test_the_current_expected_version_goes_through(alice: Tasks) -> None:
    task = await alice.create("Buy milk")
    updated = await alice.call(UPDATE_TASK, id=task["id"], input={"title": "x"}, expectedVersion=1)
    assert updated["data"]["updateTask"]["version"] == 2
    toggled = await alice.call(TOGGLE_TASK, id=task["id"], expectedVersion=2)
    assert toggled["data"]["toggleTaskComplete"]["version"] == 3
    deleted = await alice.call(DELETE_TASK, id=task["id"], expectedVersion=3)
    assert deleted["data"]["deleteTask"] == task["id"]


async def test_someone_elses_task_is_not_found_whatever_the_version(
    client: httpx.AsyncClient, alice: Tasks
) -> None:
    task = await alice.create("Buy milk")
    bob = Tasks(client, hs256_token("bob"), "bob")
    for version in (1, 2):
        body = await bob.call(TOGGLE_TASK, id=task["id"], expectedVersion=version)
        assert [error["extensions"]["code"] for error in body["errors"]] == ["NOT_FOUND"]


async def test_two_editors_with_the_same_version_one_wins_the_other_is_told(
    alice: Tasks, database_url: str
) -> None:
    task = await alice.create("Buy milk")
    first, second = await asyncio.gather(
        alice.call(UPDATE_TASK, id=task["id"], input={"title": "Tab one"}, expectedVersion=1),
        alice.call(UPDATE_TASK, id=task["id"], input={"title": "Tab two"}, expectedVersion=1),
    )
    [won] = [body for body in (first, second) if body.get("data")]
    [lost] = [body for body in (first, second) if not body.get("data")]
    assert won["data"]["updateTask"]["version"] == 2
    assert conflict_version(lost) == 2
    [row] = await tasks_of(database_url, "alice")
    assert (row["title"], row["version"]) == (won["data"]["updateTask"]["title"], 2)


async def test_fifty_concurrent_toggles_with_versions_lose_no_update(
    unlimited_client: httpx.AsyncClient, database_url: str
) -> None:
    alice = Tasks(unlimited_client, hs256_token("alice"), "alice")
    task = await alice.create("Flip me")

    async def toggle_once() -> int:
        """Toggle at the version last seen; on CONFLICT, again at the version it is at. Fifty
        writers at once may keep one waiting for SQLite's lock past its busy timeout: that is a
        503, nothing written, and retried as any client retries it."""
        version = 1
        while True:
            body = await alice.call(TOGGLE_TASK, id=task["id"], expectedVersion=version)
            if body.get("data"):
                return int(body["data"]["toggleTaskComplete"]["version"])
            if [error["extensions"]["code"] for error in body["errors"]] != ["SERVICE_UNAVAILABLE"]:
                version = conflict_version(body)

    won = await asyncio.gather(*(toggle_once() for _ in range(50)))
    assert sorted(won) == list(range(2, 52))  # each toggle its own version, none lost
    [row] = await tasks_of(database_url, "alice")
    assert (row["version"], row["completed"]) == (51, False)  # fifty flips: back where it was


async def test_without_expected_version_concurrent_toggles_each_get_their_own_version(
    alice: Tasks, database_url: str
) -> None:
    task = await alice.create("Flip me")
    bodies = await asyncio.gather(*(alice.toggle(task["id"]) for _ in range(20)))
    versions = [body["data"]["toggleTaskComplete"]["version"] for body in bodies]
    assert sorted(versions) == list(range(2, 22))
    [row] = await tasks_of(database_url, "alice")
    assert (row["version"], row["completed"]) == (21, False)


async def test_in_one_document_the_second_change_at_the_same_version_conflicts(
    client: httpx.AsyncClient, alice: Tasks, database_url: str
) -> None:
    task = await alice.create("Buy milk")
    document = """mutation Both($userId: ID!, $id: ID!) {
      first: toggleTaskComplete(userId: $userId, id: $id, expectedVersion: 1) { version }
      second: toggleTaskComplete(userId: $userId, id: $id, expectedVersion: 1) { version }
    }"""
    response = await client.post(
        "/graphql",
        json={"query": document, "variables": {"userId": "alice", "id": task["id"]}},
        headers={"authorization": f"Bearer {alice.token}"},
    )
    # Both fields are non-null, so the second's error nulls `data` (hence 409) although the
    # first one's change went through, as mutations run one after another.
    assert response.status_code == 409
    assert conflict_version(response.json()) == 2
    [row] = await tasks_of(database_url, "alice")
    assert (row["version"], row["completed"]) == (2, True)
