"""schema.graphql is the contract: the code matches it, and front-end operations run against it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLSchema,
    build_schema,
    find_breaking_changes,
    find_dangerous_changes,
    parse,
    validate,
)

import schema as taskql_schema
from schema.sdl import schema_sdl
from tests.support.graphql import codes
from tests.support.operations import NAMES, operation
from tests.support.paths import SCHEMA
from tests.support.tokens import TokenFactory


def contract() -> GraphQLSchema:
    return build_schema(SCHEMA.read_text())


def test_schema_file_is_what_the_code_exports() -> None:
    assert SCHEMA.read_text() == schema_sdl(), "schema.graphql is stale: run `taskql export-schema`"


def test_code_does_not_break_the_committed_contract() -> None:
    breaking = find_breaking_changes(contract(), taskql_schema.build_schema()._schema)
    assert not breaking, "the code would break front ends:\n" + "\n".join(
        f"- {change.type.name}: {change.description}" for change in breaking
    )
    dangerous = find_dangerous_changes(contract(), taskql_schema.build_schema()._schema)
    assert not dangerous, "\n".join(f"- {change.description}" for change in dangerous)


@pytest.mark.parametrize("name", NAMES)
def test_operation_validates_against_the_schema_file(name: str) -> None:
    errors = validate(contract(), parse(operation(name)))
    assert not errors, [error.message for error in errors]


async def run(client: httpx.AsyncClient, name: str, token: str, **variables: Any) -> httpx.Response:
    return await client.post(
        "/graphql",
        json={"query": operation(name), "operationName": name, "variables": variables},
        headers={"authorization": f"Bearer {token}"},
    )


async def test_front_end_operations_round_trip(
    client: httpx.AsyncClient, token: TokenFactory
) -> None:
    me, other = token("fe-user", email="fe@example.com", name="FE"), token("someone-else")
    who = await run(client, "Me", me)
    assert who.json() == {
        "data": {"me": {"id": "fe-user", "email": "fe@example.com", "name": "FE"}}
    }

    created = []
    for title in ("first", "second", "third"):
        response = await run(client, "CreateTask", me, userId="fe-user", input={"title": title})
        created.append(response.json()["data"]["createTask"])
    assert set(created[0]) == {
        "id",
        "userId",
        "title",
        "description",
        "completed",
        "createdAt",
        "updatedAt",
        "version",
    }

    page = (await run(client, "ListTasks", me, userId="fe-user", first=2)).json()["data"]["tasks"]
    assert [t["title"] for t in page["items"]] == ["third", "second"]
    assert page["total"] == 3 and page["pageInfo"]["hasNextPage"] is True
    rest = await run(
        client, "ListTasks", me, userId="fe-user", first=2, after=page["pageInfo"]["endCursor"]
    )
    assert [t["title"] for t in rest.json()["data"]["tasks"]["items"]] == ["first"]

    task_id = created[0]["id"]
    got = await run(client, "GetTask", me, userId="fe-user", id=task_id)
    assert got.json()["data"]["task"] == created[0]
    updated = await run(
        client, "UpdateTask", me, userId="fe-user", id=task_id, input={"description": "now with"}
    )
    assert updated.json()["data"]["updateTask"]["description"] == "now with"
    toggled = await run(client, "ToggleTaskComplete", me, userId="fe-user", id=task_id)
    assert toggled.json()["data"]["toggleTaskComplete"]["completed"] is True
    deleted = await run(client, "DeleteTask", me, userId="fe-user", id=task_id)
    assert deleted.json() == {"data": {"deleteTask": task_id}}

    gone = await run(client, "GetTask", me, userId="fe-user", id=task_id)
    assert codes(gone) == ["NOT_FOUND"]
    foreign = await run(client, "GetTask", other, userId="someone-else", id=created[1]["id"])
    assert codes(foreign) == ["NOT_FOUND"]
    forbidden = await run(client, "ListTasks", other, userId="fe-user")
    assert forbidden.status_code == 403
    assert codes(forbidden) == ["FORBIDDEN"]
    anonymous = await client.post("/graphql", json={"query": operation("Me")})
    assert anonymous.status_code == 401
