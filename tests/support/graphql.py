"""GraphQL over HTTP as the tests speak it: the same door a front end uses, and its answers."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.operations import CREATE_TASK, DELETE_TASK, TOGGLE_TASK, UPDATE_TASK
from tests.support.tokens import hs256_token

INTROSPECTION = "{ __schema { queryType { name } } }"
# Codes a client can earn by what it sends; anything else in a fuzzed answer is our fault.
CLIENT_CODES = {
    "BAD_REQUEST",
    "BAD_USER_INPUT",
    "FORBIDDEN",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "NOT_FOUND",
}


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    sent = {"content-type": "application/json", **(headers or {})}
    if token is not None:
        sent["authorization"] = f"Bearer {token}"
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return await client.post("/graphql", json=body, headers=sent)


def codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json().get("errors", [])]


def unauthenticated(response: httpx.Response) -> tuple[str, str]:
    """(reason, message) of a 401, after checking the parts every 401 shares."""
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    errors = response.json()["errors"]
    assert len(errors) == 1
    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert response.json().get("data") is None
    return errors[0]["extensions"]["reason"], errors[0]["message"]


def limit_of(response: httpx.Response) -> str:
    """The one limit every error of a refused request names, once it is checked to be a 400."""
    assert response.status_code == 400, response.text
    assert "data" not in response.json()
    assert set(codes(response)) == {"BAD_REQUEST"}
    [limit] = {error["extensions"]["limit"] for error in response.json()["errors"]}
    return str(limit)


class Tasks:
    """One user's task mutations over HTTP, as the front end sends them."""

    def __init__(self, http: httpx.AsyncClient, token: str, user_id: str) -> None:
        self.http, self.token, self.user_id = http, token, user_id

    async def call(self, query: str, **variables: Any) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": {"userId": self.user_id, **variables}},
            headers={"authorization": f"Bearer {self.token}"},
        )
        body: dict[str, Any] = response.json()
        return body

    async def create(self, title: str) -> dict[str, Any]:
        body = await self.call(CREATE_TASK, input={"title": title})
        task: dict[str, Any] = body["data"]["createTask"]
        return task

    async def update(self, task_id: str, **changes: Any) -> dict[str, Any]:
        return await self.call(UPDATE_TASK, id=task_id, input=changes)

    async def toggle(self, task_id: str) -> dict[str, Any]:
        return await self.call(TOGGLE_TASK, id=task_id)

    async def delete(self, task_id: str) -> dict[str, Any]:
        return await self.call(DELETE_TASK, id=task_id)


async def data_of(http: httpx.AsyncClient, user: str, query: str, **variables: Any) -> Any:
    """`query` for `user` (as `$userId`, with a token of theirs): its data, once it is checked
    to be a clean 200."""
    response = await http.post(
        "/graphql",
        json={"query": query, "variables": {"userId": user, **variables}},
        headers={"authorization": f"Bearer {hs256_token(user)}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]
