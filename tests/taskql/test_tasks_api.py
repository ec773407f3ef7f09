"""The task API through HTTP, on SQLite and PostgreSQL, with real HS256 tokens."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.graphql import codes, gql
from tests.support.operations import (
    CREATE_TASK,
    DELETE_TASK,
    GET_TASK,
    LIST_TASKS,
    TOGGLE_TASK,
    UPDATE_TASK,
)
from tests.support.tokens import TokenFactory


class Api:
    """One signed-in user's view of the API."""

    def __init__(self, client: httpx.AsyncClient, token: TokenFactory, user: str) -> None:
        self.client, self.user, self.token = client, user, token(user)

    async def call(self, query: str, **variables: Any) -> httpx.Response:
        return await gql(self.client, query, {"userId": self.user, **variables}, token=self.token)

    async def create(self, title: str, description: str | None = None) -> dict[str, Any]:
        response = await self.call(CREATE_TASK, input={"title": title, "description": description})
        assert response.status_code == 200, response.text
        task: dict[str, Any] = response.json()["data"]["createTask"]
        return task

    async def list(self, **variables: Any) -> dict[str, Any]:
        response = await self.call(LIST_TASKS, **variables)
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()["data"]["tasks"]
        return page


@pytest.fixture
def alice(client: httpx.AsyncClient, token: TokenFactory) -> Api:
    return Api(client, token, "alice")


@pytest.fixture
def bob(client: httpx.AsyncClient, token: TokenFactory) -> Api:
    return Api(client, token, "bob")


async def test_created_task_is_returned_with_trimmed_title_and_utc_timestamps(alice: Api) -> None:
    task = await alice.create("  Buy milk  ", "two litres")
    assert task["title"] == "Buy milk"
    assert task["description"] == "two litres"
    assert task["userId"] == "alice"
    assert task["completed"] is False
    assert task["createdAt"].endswith("+00:00")
    assert task["createdAt"] == task["updatedAt"]


async def test_me_reports_the_token_subject_email_and_name(
    client: httpx.AsyncClient, token: TokenFactory
) -> None:
    response = await gql(
        client, "{ me { id email name } }", token=token("u1", email="u1@x.io", name="U One")
    )
    assert response.json() == {"data": {"me": {"id": "u1", "email": "u1@x.io", "name": "U One"}}}


async def test_get_returns_own_task_and_not_found_for_others(alice: Api, bob: Api) -> None:
    task = await alice.create("mine")
    own = await alice.call(GET_TASK, id=task["id"])
    assert own.json()["data"]["task"]["title"] == "mine"
    foreign = await bob.call(GET_TASK, id=task["id"])
    missing = await bob.call(GET_TASK, id="999999")
    for response in (foreign, missing):
        assert response.status_code == 200
        body = response.json()
        assert body["data"] == {"task": None}
        assert body["errors"][0]["message"] == "Task not found."
        assert codes(response) == ["NOT_FOUND"]
    assert foreign.json() == missing.json()


async def test_listing_shows_only_the_callers_tasks(alice: Api, bob: Api) -> None:
    await alice.create("a1")
    await bob.create("b1")
    await alice.create("a2")
    page = await alice.list()
    assert [t["title"] for t in page["items"]] == ["a2", "a1"]
    assert page["total"] == 2
    assert {t["userId"] for t in page["items"]} == {"alice"}


async def test_another_users_id_is_forbidden_with_403_and_resolver_does_not_run(
    alice: Api, bob: Api
) -> None:
    await bob.create("secret")
    response = await gql(alice.client, LIST_TASKS, {"userId": "bob"}, token=alice.token)
    assert response.status_code == 403
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["message"] == "Access denied. You can only access your own resources."
    assert codes(response) == ["FORBIDDEN"]
    create = await gql(
        alice.client,
        CREATE_TASK,
        {"userId": "bob", "input": {"title": "planted"}},
        token=alice.token,
    )
    assert create.status_code == 403
    assert (await bob.list())["total"] == 1


async def test_forbidden_non_null_root_nulls_all_data_so_status_is_403(alice: Api) -> None:
    query = '{ me { id } tasks(userId: "bob") { total } }'
    response = await gql(alice.client, query, token=alice.token)
    assert response.status_code == 403
    assert response.json()["data"] is None
    assert codes(response) == ["FORBIDDEN"]


async def test_task_field_for_another_user_is_forbidden_beside_own_data(alice: Api) -> None:
    query = 'query { me { id } task(userId: "bob", id: "1") { id } }'
    response = await gql(alice.client, query, token=alice.token)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"me": {"id": "alice"}, "task": None}
    assert codes(response) == ["FORBIDDEN"]


async def test_anonymous_task_query_is_401_with_challenge(client: httpx.AsyncClient) -> None:
    response = await gql(client, LIST_TASKS, {"userId": "alice"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "UNAUTHENTICATED", "reason": "missing_header"}
    assert error["message"] == (
        "Authorization header missing. Include: Authorization: Bearer <token>"
    )


async def test_update_is_partial_and_null_description_clears(alice: Api) -> None:
    task = await alice.create("title", "desc")
    renamed = (await alice.call(UPDATE_TASK, id=task["id"], input={"title": "new"})).json()
    updated = renamed["data"]["updateTask"]
    assert (updated["title"], updated["description"], updated["completed"]) == (
        "new",
        "desc",
        False,
    )
    assert updated["updatedAt"] > task["updatedAt"]
    cleared = (await alice.call(UPDATE_TASK, id=task["id"], input={"description": None})).json()
    assert cleared["data"]["updateTask"]["description"] is None
    assert cleared["data"]["updateTask"]["title"] == "new"
    done = (await alice.call(UPDATE_TASK, id=task["id"], input={"completed": True})).json()
    assert done["data"]["updateTask"]["completed"] is True


async def test_foreign_update_toggle_delete_are_not_found_and_change_nothing(
    alice: Api, bob: Api
) -> None:
    task = await alice.create("keep me", "as is")
    for query, extra in (
        (UPDATE_TASK, {"input": {"title": "hijacked"}}),
        (TOGGLE_TASK, {}),
        (DELETE_TASK, {}),
    ):
        response = await bob.call(query, id=task["id"], **extra)
        assert response.status_code == 200
        assert codes(response) == ["NOT_FOUND"]
    after = (await alice.call(GET_TASK, id=task["id"])).json()["data"]["task"]
    assert after == task


async def test_toggle_flips_and_moves_updated_at(alice: Api) -> None:
    task = await alice.create("flip")
    once = (await alice.call(TOGGLE_TASK, id=task["id"])).json()["data"]["toggleTaskComplete"]
    twice = (await alice.call(TOGGLE_TASK, id=task["id"])).json()["data"]["toggleTaskComplete"]
    assert (once["completed"], twice["completed"]) == (True, False)
    assert task["updatedAt"] < once["updatedAt"] < twice["updatedAt"]


async def test_delete_returns_id_then_task_is_gone(alice: Api) -> None:
    task = await alice.create("bye")
    deleted = await alice.call(DELETE_TASK, id=task["id"])
    assert deleted.json() == {"data": {"deleteTask": task["id"]}}
    again = await alice.call(DELETE_TASK, id=task["id"])
    assert codes(again) == ["NOT_FOUND"]
    assert (await alice.list())["total"] == 0


@pytest.mark.parametrize(
    ("query", "variables", "field"),
    [
        (CREATE_TASK, {"input": {"title": "   "}}, "title"),
        (CREATE_TASK, {"input": {"title": "x" * 201}}, "title"),
        (CREATE_TASK, {"input": {"title": "ok", "description": "d" * 1001}}, "description"),
        (LIST_TASKS, {"first": 0}, "first"),
        (LIST_TASKS, {"first": 101}, "first"),
        (LIST_TASKS, {"after": "not-a-cursor"}, "after"),
        (GET_TASK, {"id": "abc"}, "id"),
    ],
)
async def test_invalid_input_is_bad_user_input_naming_the_field(
    alice: Api, query: str, variables: dict[str, Any], field: str
) -> None:
    response = await alice.call(query, **variables)
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == field
    assert error["message"].startswith(f"{field}:")
    assert (await alice.list())["total"] == 0


async def test_title_of_exactly_200_characters_is_accepted(alice: Api) -> None:
    task = await alice.create("t" * 200, "d" * 1000)
    assert len(task["title"]) == 200


async def test_out_of_range_id_is_not_found_not_a_server_error(alice: Api) -> None:
    response = await alice.call(GET_TASK, id="99999999999999999999")
    assert codes(response) == ["NOT_FOUND"]


async def test_keyset_pagination_is_stable_under_inserts(alice: Api) -> None:
    for n in range(7):
        await alice.create(f"task {n}")
    first = await alice.list(first=3)
    assert [t["title"] for t in first["items"]] == ["task 6", "task 5", "task 4"]
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["total"] == 7
    await alice.create("inserted meanwhile")
    second = await alice.list(first=3, after=first["pageInfo"]["endCursor"])
    assert [t["title"] for t in second["items"]] == ["task 3", "task 2", "task 1"]
    third = await alice.list(first=3, after=second["pageInfo"]["endCursor"])
    assert [t["title"] for t in third["items"]] == ["task 0"]
    assert third["pageInfo"] == {"hasNextPage": False, "endCursor": third["pageInfo"]["endCursor"]}
    assert third["total"] == 8


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("CREATED_AT_ASC", ["banana", "apple", "cherry"]),
        ("CREATED_AT_DESC", ["cherry", "apple", "banana"]),
        ("TITLE_ASC", ["apple", "banana", "cherry"]),
        ("UPDATED_AT_DESC", ["banana", "cherry", "apple"]),
    ],
)
async def test_orderings_paginate_through_every_task_once(
    alice: Api, order: str, expected: list[str]
) -> None:
    banana = await alice.create("banana")
    await alice.create("apple")
    await alice.create("cherry")
    await alice.call(TOGGLE_TASK, id=banana["id"])
    seen: list[str] = []
    after = None
    while True:
        page = await alice.list(orderBy=order, first=1, after=after)
        seen += [t["title"] for t in page["items"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == expected


async def test_cursor_from_another_ordering_is_rejected(alice: Api) -> None:
    await alice.create("one")
    await alice.create("two")
    page = await alice.list(first=1)
    response = await alice.call(
        LIST_TASKS, orderBy="TITLE_ASC", after=page["pageInfo"]["endCursor"]
    )
    assert codes(response) == ["BAD_USER_INPUT"]


async def test_filter_by_completed_and_search_with_literal_wildcards(alice: Api, bob: Api) -> None:
    await alice.create("Pay 100% of rent")
    await alice.create("Pay 1000 of rent")
    await alice.create("snake_case name", "nothing")
    await alice.create("snakeXcase", "nothing")
    described = await alice.create("plain", "contains MILK in description")
    await bob.create("bob has milk too")
    await alice.call(TOGGLE_TASK, id=described["id"])
    percent = await alice.list(filter={"search": "100%"})
    assert [t["title"] for t in percent["items"]] == ["Pay 100% of rent"]
    underscore = await alice.list(filter={"search": "e_c"})
    assert [t["title"] for t in underscore["items"]] == ["snake_case name"]
    milk = await alice.list(filter={"search": "milk"})
    assert [t["title"] for t in milk["items"]] == ["plain"]
    assert milk["total"] == 1
    done = await alice.list(filter={"completed": True})
    assert [t["title"] for t in done["items"]] == ["plain"]
    open_ = await alice.list(filter={"completed": False, "search": "PAY"})
    assert open_["total"] == 2
