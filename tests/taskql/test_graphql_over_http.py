"""GraphQL over HTTP: media types, request errors, methods, and the contract's status codes."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.support.apps import make_settings, running_app
from tests.support.graphql import codes, gql
from tests.support.network import free_port
from tests.support.tokens import TokenFactory

GRAPHQL_RESPONSE = "application/graphql-response+json"


async def test_graphql_response_json_is_used_when_accepted(client: httpx.AsyncClient) -> None:
    response = await gql(client, "{ __typename }", headers={"accept": GRAPHQL_RESPONSE})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)


async def test_plain_json_is_the_default(client: httpx.AsyncClient) -> None:
    response = await gql(client, "{ __typename }")
    assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    ("query", "code"),
    [("{ __typename", "GRAPHQL_PARSE_FAILED"), ("{ nope }", "GRAPHQL_VALIDATION_FAILED")],
)
async def test_request_errors_are_400_without_data_under_graphql_response_json(
    client: httpx.AsyncClient, query: str, code: str
) -> None:
    response = await gql(client, query, headers={"accept": GRAPHQL_RESPONSE})
    assert response.status_code == 400
    assert "data" not in response.json()
    assert codes(response) == [code]
    legacy = await gql(client, query, headers={"accept": "application/json"})
    assert legacy.status_code == 200
    assert codes(legacy) == [code]


async def test_variable_coercion_error_is_400_bad_user_input(
    client: httpx.AsyncClient, token: TokenFactory
) -> None:
    query = 'query($first: Int) { tasks(userId: "u", first: $first) { total } }'
    response = await gql(
        client, query, {"first": "many"}, token=token("u"), headers={"accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 400
    assert codes(response) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "variables",
    [
        '{"t": "\\ud800"}',  # a lone surrogate: JSON can say it, it is no character
        '{"t": ' + "9" * 5000 + "}",  # past Python's 4300-digit limit for int()
    ],
)
async def test_json_the_server_cannot_represent_is_400(
    client: httpx.AsyncClient, token: TokenFactory, variables: str
) -> None:
    query = 'mutation($t: String!) { createTask(userId: \\"u\\", input: {title: $t}) { id } }'
    response = await client.post(
        "/graphql",
        content=f'{{"query": "{query}", "variables": {variables}}}',
        headers={"content-type": "application/json", "authorization": f"Bearer {token('u')}"},
    )
    assert response.status_code == 400
    assert codes(response) == ["BAD_REQUEST"]
    total = await gql(client, '{ tasks(userId: "u") { total } }', token=token("u"))
    assert total.json()["data"]["tasks"]["total"] == 0


async def test_get_serves_queries(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", params={"query": "{ __typename }"})
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_mutation_over_get_is_405_with_allow_post(
    client: httpx.AsyncClient, token: TokenFactory
) -> None:
    query = 'mutation { createTask(userId: "u", input: {title: "x"}) { id } }'
    response = await client.get(
        "/graphql", params={"query": query}, headers={"authorization": f"Bearer {token('u')}"}
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


async def test_other_methods_are_405_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.put("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 405
    assert "POST" in response.headers["allow"]


async def test_unacceptable_accept_is_406(client: httpx.AsyncClient) -> None:
    response = await gql(client, "{ __typename }", headers={"accept": "text/csv"})
    assert response.status_code == 406


async def test_malformed_json_body_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert codes(response) == ["BAD_REQUEST"]


async def test_request_id_is_echoed_or_made_up(client: httpx.AsyncClient) -> None:
    echoed = await gql(client, "{ __typename }", headers={"x-request-id": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    made = await gql(client, "{ __typename }", headers={"x-request-id": "bad id <script>"})
    assert len(made.headers["x-request-id"]) == 32


async def test_unreachable_database_is_503_with_retry_after(token: TokenFactory) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/test"  # nobody listens there
    async with running_app(make_settings(url, db_connect_timeout_seconds=1)) as taskql:
        client = taskql.client
        response = await gql(client, '{ tasks(userId: "u") { total } }', token=token("u"))
        ready = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert codes(response) == ["SERVICE_UNAVAILABLE"]
    assert response.json()["errors"][0]["message"] == (
        "Service temporarily unavailable. Please retry."
    )
    assert ready.status_code == 503


async def test_unexpected_errors_are_masked_and_logged_with_request_id(
    client: httpx.AsyncClient,
    token: TokenFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from resolvers import tasks

    async def explode(*_: object, **__: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(tasks, "list_tasks", explode)
    with caplog.at_level(logging.ERROR, logger="taskql.errors"):
        response = await gql(
            client,
            '{ tasks(userId: "u") { total } }',
            token=token("u"),
            headers={"x-request-id": "req-42"},
        )
    assert response.status_code == 500
    error = response.json()["errors"][0]
    assert error["message"] == "Internal server error."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-42"}
    assert "secret internals" not in response.text
    assert "req-42" in caplog.text
    assert "secret internals" in caplog.text
