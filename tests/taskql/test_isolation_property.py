"""Property: whatever three users do, each sees exactly their own tasks and nothing leaks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.apps import make_settings, running_app
from tests.support.databases import truncate_tasks
from tests.support.graphql import codes, gql
from tests.support.operations import LIST_TASKS, operation
from tests.support.tokens import hs256_token

USERS = ("ann", "ben", "cat")
# Made when the module loads, so they must outlast a slow suite on a loaded machine.
TOKENS = {user: hs256_token(user, ttl=6 * 3600) for user in USERS}


@dataclass
class Step:
    kind: str  # create | update | toggle | delete | get
    actor: str
    claimed: str  # the userId argument sent: usually the actor, sometimes someone else
    pick: int  # which known task id to aim at (any owner), modulo the number created
    title: str


steps = st.builds(
    Step,
    kind=st.sampled_from(["create", "create", "update", "toggle", "delete", "get"]),
    actor=st.sampled_from(USERS),
    claimed=st.sampled_from(USERS),
    pick=st.integers(min_value=0, max_value=50),
    title=st.text(
        st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=20
    ).filter(lambda s: s.strip() != ""),
)


async def apply(client: httpx.AsyncClient, step: Step, ids: list[int]) -> httpx.Response:
    target = str(ids[step.pick % len(ids)]) if ids else "1"
    by_kind: dict[str, tuple[str, dict[str, Any]]] = {  # the front end's operation per kind
        "create": ("CreateTask", {"input": {"title": step.title}}),
        "update": ("UpdateTask", {"id": target, "input": {"title": step.title}}),
        "toggle": ("ToggleTaskComplete", {"id": target}),
        "delete": ("DeleteTask", {"id": target}),
        "get": ("GetTask", {"id": target}),
    }
    name, variables = by_kind[step.kind]
    variables = {"userId": step.claimed, **variables}
    return await gql(client, operation(name), variables, token=TOKENS[step.actor])


def expected(
    model: dict[int, dict[str, Any]], step: Step, ids: list[int]
) -> tuple[str, int | None]:
    """What the step must do to the model: ('ok'|'forbidden'|'not_found', task id)."""
    if step.claimed != step.actor:
        return "forbidden", None
    if step.kind == "create":
        return "ok", None
    target = ids[step.pick % len(ids)] if ids else 1
    row = model.get(target)
    if row is None or row["userId"] != step.actor:
        return "not_found", target
    return "ok", target


@pytest.fixture
async def postgres_client(clean_postgres: str) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async with running_app(make_settings(clean_postgres)) as taskql:
        yield taskql.client, clean_postgres


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=st.lists(steps, min_size=1, max_size=15))
async def test_users_only_ever_see_their_own_tasks(
    postgres_client: tuple[httpx.AsyncClient, str], sequence: list[Step]
) -> None:
    client, url = postgres_client
    await truncate_tasks(url)  # each example starts from nothing

    model: dict[int, dict[str, Any]] = {}
    ids: list[int] = []
    for step in sequence:
        outcome, target = expected(model, step, ids)
        response = await apply(client, step, ids)
        body = response.json()
        for value in (body.get("data") or {}).values():
            if isinstance(value, dict):
                assert value["userId"] == step.actor, "a response carried another user's task"
        if outcome == "forbidden":
            assert codes(response) == ["FORBIDDEN"]
        elif outcome == "not_found":
            assert codes(response) == ["NOT_FOUND"]
        else:
            assert "errors" not in body, body
            data = body["data"]
            if step.kind == "create":
                task = data["createTask"]
                model[int(task["id"])] = task
                ids.append(int(task["id"]))
            elif step.kind == "update":
                model[target] = data["updateTask"]  # type: ignore[index]
            elif step.kind == "toggle":
                model[target] = data["toggleTaskComplete"]  # type: ignore[index]
            elif step.kind == "delete":
                del model[target]  # type: ignore[arg-type]
            else:
                assert data["task"] == model[target]  # type: ignore[index]
        for user in USERS:
            listing = await gql(
                client, LIST_TASKS, {"userId": user, "first": 100}, token=TOKENS[user]
            )
            page = listing.json()["data"]["tasks"]
            mine = {task_id: row for task_id, row in model.items() if row["userId"] == user}
            assert page["total"] == len(mine)
            assert {int(t["id"]): t for t in page["items"]} == mine
