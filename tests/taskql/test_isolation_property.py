"""Property: whatever three users do, each sees exactly their own tasks and nothing leaks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from db.session import create_engine
from tests.conftest import hs256_token
from tests.graphql import codes, gql
from tests.taskql.operations import CREATE, DELETE, GET, LIST, TOGGLE, UPDATE

USERS = ("ann", "ben", "cat")
TOKENS = {user: hs256_token(user) for user in USERS}


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
    query, variables = {
        "create": (CREATE, {"input": {"title": step.title}}),
        "update": (UPDATE, {"id": target, "input": {"title": step.title}}),
        "toggle": (TOGGLE, {"id": target}),
        "delete": (DELETE, {"id": target}),
        "get": (GET, {"id": target}),
    }[step.kind]
    return await gql(client, query, {"userId": step.claimed, **variables}, token=TOKENS[step.actor])


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
async def postgres_client(clean_postgres: str) -> Any:
    from taskql.app import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(clean_postgres))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client, clean_postgres


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=st.lists(steps, min_size=1, max_size=15))
async def test_users_only_ever_see_their_own_tasks(
    postgres_client: Any, sequence: list[Step]
) -> None:
    client, url = postgres_client
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("TRUNCATE tasks RESTART IDENTITY"))
    await engine.dispose()

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
            listing = await gql(client, LIST, {"userId": user, "first": 100}, token=TOKENS[user])
            page = listing.json()["data"]["tasks"]
            mine = {task_id: row for task_id, row in model.items() if row["userId"] == user}
            assert page["total"] == len(mine)
            assert {int(t["id"]): t for t in page["items"]} == mine
