"""Requests a client gets wrong, or that meet a bug of ours, get the contract's answer (SPEC §3)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import orjson
import pytest

from tests.support.apps import ClientFactory
from tests.support.graphql import codes, gql
from tests.support.processes import ServerProcess
from tests.support.timing import eventually
from tests.support.tokens import hs256_token

GRAPHQL_RESPONSE = "application/graphql-response+json"
CREATE = """
mutation Create($userId: ID!, $title: String!) {
  createTask(userId: $userId, input: {title: $title}) { id }
}
"""
TOTAL = "query Total($userId: ID!) { tasks(userId: $userId) { total } }"


def only_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert "data" not in body or body["data"] is None
    [error] = body["errors"]
    return dict(error)


async def total(client: httpx.AsyncClient, user: str) -> int:
    response = await gql(client, TOTAL, {"userId": user}, token=hs256_token(user))
    return int(response.json()["data"]["tasks"]["total"])


@pytest.mark.parametrize("body", [b"null", b'"text"', b"7", b"true", b"[1]", b'[{"query": 1}]'])
async def test_a_json_body_that_is_not_an_object_is_400_bad_request(
    make_client: ClientFactory, body: bytes
) -> None:
    client = await make_client()
    response = await client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert only_error(response)["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize(
    ("member", "value"),
    [("query", 5), ("operationName", 5), ("operationName", ["A"]), ("variables", [1])],
)
async def test_a_member_of_the_wrong_type_is_400_and_names_the_member(
    make_client: ClientFactory, member: str, value: object
) -> None:
    client = await make_client()
    body = {"query": "{ __typename }", member: value}
    response = await client.post("/graphql", json=body)
    assert response.status_code == 400
    assert f"`{member}`" in only_error(response)["message"]


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_subscription_over_http_is_400_and_says_where_subscriptions_are_served(
    make_client: ClientFactory, method: str
) -> None:
    client = await make_client()
    query = 'subscription { taskEvents(userId: "u") { type } }'
    headers = {"authorization": f"Bearer {hs256_token('u')}", "accept": GRAPHQL_RESPONSE}
    if method == "GET":
        response = await client.get("/graphql", params={"query": query}, headers=headers)
    else:
        response = await client.post("/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 400
    error = only_error(response)
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "WebSocket" in error["message"]


async def test_media_types_are_case_insensitive(make_client: ClientFactory) -> None:
    client = await make_client()
    response = await client.post(
        "/graphql",
        content=orjson.dumps({"query": "{ __typename }"}),
        headers={"content-type": "Application/JSON; Charset=UTF-8"},
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_two_authorization_headers_are_refused_not_picked_from(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    token = hs256_token("u")
    headers = [
        ("content-type", "application/json"),
        ("authorization", f"Bearer {token}"),
        ("authorization", f"Bearer {token}"),
    ]
    response = await client.post(
        "/graphql", content=orjson.dumps({"query": TOTAL, "variables": {"userId": "u"}}),
        headers=headers,
    )  # fmt: skip
    assert response.status_code == 401
    assert only_error(response)["extensions"] == {"code": "UNAUTHENTICATED", "reason": "bad_header"}


async def test_two_operations_without_an_operation_name_run_neither(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    document = CREATE + "\nquery Other { __typename }"
    response = await gql(
        client,
        document,
        {"userId": "u", "title": "must not be written"},
        token=hs256_token("u"),
        headers={"accept": GRAPHQL_RESPONSE},
    )
    assert response.status_code == 400
    assert "operation name" in only_error(response)["message"]
    assert await total(client, "u") == 0


async def test_two_operations_with_an_operation_name_run_the_named_one(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    body = {
        "query": "query Other { __typename }\n" + CREATE,
        "operationName": "Create",
        "variables": {"userId": "u", "title": "written"},
    }
    headers = {"authorization": f"Bearer {hs256_token('u')}"}
    response = await client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200
    assert response.json()["data"]["createTask"]["id"]
    assert await total(client, "u") == 1


async def test_a_mutation_naming_another_user_in_any_field_writes_nothing(
    client: httpx.AsyncClient,
) -> None:
    """Every root field's owner is checked before the first one runs: the 403 tells the truth."""
    document = """
    mutation Both($other: ID!) {
      a: createTask(userId: "me", input: {title: "mine"}) { id }
      b: createTask(userId: $other, input: {title: "theirs"}) { id }
      c: createTask(userId: "me", input: {title: "mine too"}) { id }
    }
    """
    response = await gql(client, document, {"other": "them"}, token=hs256_token("me"))
    assert response.status_code == 403
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert error["path"] == ["b"]
    assert error["locations"]
    assert await total(client, "me") == 0
    assert await total(client, "them") == 0


async def test_a_mutation_whose_fields_are_all_your_own_still_runs_every_field(
    client: httpx.AsyncClient,
) -> None:
    document = """
    mutation Both {
      a: createTask(userId: "me", input: {title: "one"}) { id }
      b: createTask(userId: "me", input: {title: "two"}) { id }
    }
    """
    response = await gql(client, document, token=hs256_token("me"))
    assert response.status_code == 200
    assert set(response.json()["data"]) == {"a", "b"}
    assert await total(client, "me") == 2


async def test_an_unexpected_exception_outside_execution_is_the_masked_json_500(
    make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from taskql.http import graphql as graphql_http

    def broken(_: str | None) -> str:
        raise RuntimeError("secret detail")

    client = await make_client()
    monkeypatch.setattr(graphql_http, "negotiate", broken)
    with caplog.at_level(logging.ERROR, logger="taskql.errors"):
        response = await client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"x-request-id": "req-1"}
        )
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"] == "req-1"
    error = only_error(response)
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-1"}
    assert "secret detail" not in response.text
    assert any("req-1" in record.getMessage() and record.exc_info for record in caplog.records)


async def test_an_exception_in_the_context_loader_is_the_masked_json_500(
    make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auth.verify import TokenVerifier

    async def broken(self: object, token: str) -> None:
        raise ValueError("verifier bug")

    client = await make_client()
    monkeypatch.setattr(TokenVerifier, "verify", broken)
    response = await gql(client, TOTAL, {"userId": "u"}, token=hs256_token("u"))
    assert response.status_code == 500
    assert codes(response) == ["INTERNAL_SERVER_ERROR"]
    assert "verifier bug" not in response.text


async def test_a_client_that_hangs_up_mid_body_is_logged_as_499_not_as_an_error(
    live: ServerProcess,
) -> None:
    mark = live.log_mark()
    reader, writer = await asyncio.open_connection("127.0.0.1", live.port)
    writer.write(
        b"POST /graphql HTTP/1.1\r\nHost: taskql\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n" + b'{"query": "'
    )
    await writer.drain()
    # On purpose: time for the server to take up the request (nothing a client sees says when),
    # so that it is the body, not the connection, that is cut short.
    await asyncio.sleep(0.2)
    writer.close()
    await writer.wait_closed()

    def access_records() -> list[dict[str, Any]]:
        return [r for r in live.log_records(mark) if r.get("logger") == "taskql.access"]

    await eventually(lambda: bool(access_records()), within=5, message="no access log line")
    [record] = access_records()
    assert record["status"] == 499
    assert not [r for r in live.log_records(mark) if r.get("level") == "error"]
