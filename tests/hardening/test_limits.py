"""Abuse limits: oversized requests are refused with 400/413 before any resolver runs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from schema import limits
from taskql.http.body_limit import DRAIN_MAX_BYTES
from tests.support.apps import ClientFactory
from tests.support.graphql import codes, gql, limit_of
from tests.support.tokens import hs256_token

LIST = 'query ListTasks { tasks(userId: "u") { items { id title } total } }'


@pytest.fixture
def resolvers_must_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from resolvers import tasks

    async def explode(*_: object, **__: object) -> None:
        raise AssertionError("a resolver ran for a request over a limit")

    for name in ("list_tasks", "get_task", "create_task"):
        monkeypatch.setattr(tasks, name, explode)


@pytest.mark.usefixtures("resolvers_must_not_run")
async def test_a_query_deeper_than_the_limit_is_400_and_no_resolver_runs(
    make_client: ClientFactory,
) -> None:
    client = await make_client(graphql_max_depth=1)
    response = await gql(client, LIST, token=hs256_token("u"))
    assert limit_of(response) == "depth"


@pytest.mark.usefixtures("resolvers_must_not_run")
async def test_depth_counts_through_fragments(make_client: ClientFactory) -> None:
    client = await make_client(graphql_max_depth=1)
    query = (
        'query { tasks(userId: "u") { ...Page } } fragment Page on TaskConnection { items { id } }'
    )
    response = await gql(client, query, token=hs256_token("u"))
    assert limit_of(response) == "depth"


@pytest.mark.usefixtures("resolvers_must_not_run")
async def test_too_many_aliases_is_400(make_client: ClientFactory) -> None:
    client = await make_client(graphql_max_aliases=2)
    query = "{ a: me { id } b: me { id } c: me { id } }"
    response = await gql(client, query, token=hs256_token("u"))
    assert limit_of(response) == "aliases"
    assert response.json()["errors"][0]["message"] == "3 aliases found. Allowed: 2"


@pytest.mark.usefixtures("resolvers_must_not_run")
async def test_too_many_tokens_is_400_even_for_legacy_json_clients(
    make_client: ClientFactory,
) -> None:
    client = await make_client(graphql_max_tokens=100)
    query = "{ " + "me { id } " * 30 + "}"
    response = await gql(
        client, query, token=hs256_token("u"), headers={"accept": "application/json"}
    )
    assert limit_of(response) == "tokens"


async def test_default_limits_admit_every_contract_operation_and_introspection(
    make_client: ClientFactory,
) -> None:
    from graphql import get_introspection_query

    client = await make_client()
    introspection = get_introspection_query(descriptions=True, input_value_deprecation=True)
    response = await gql(client, introspection)
    assert response.status_code == 200, response.text
    response = await gql(client, LIST, token=hs256_token("u"))
    assert response.status_code == 200, response.text


async def test_a_spread_of_an_unknown_fragment_is_a_validation_error_not_a_crash(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    response = await gql(
        client, "{ ...Nope }", headers={"accept": "application/graphql-response+json"}
    )
    assert response.status_code == 400
    assert codes(response) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_batching_is_off_by_default(make_client: ClientFactory) -> None:
    client = await make_client()
    response = await client.post("/graphql", json=[{"query": "{ __typename }"}])
    assert response.status_code == 400
    assert codes(response) == ["BAD_REQUEST"]


async def test_batching_when_enabled_is_bounded_by_max_operations(
    make_client: ClientFactory,
) -> None:
    client = await make_client(graphql_max_operations=2)
    two = await client.post("/graphql", json=[{"query": "{ __typename }"}] * 2)
    assert two.status_code == 200
    assert two.json() == [{"data": {"__typename": "Query"}}] * 2
    three = await client.post("/graphql", json=[{"query": "{ __typename }"}] * 3)
    assert three.status_code == 400
    assert three.json()["errors"][0]["message"] == "Too many operations"


async def test_a_body_declared_larger_than_the_limit_is_413(make_client: ClientFactory) -> None:
    client = await make_client(max_request_bytes=1024)
    body = b'{"query": "' + b" " * 2000 + b'{ __typename }"}'
    response = await client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert codes(response) == ["BAD_REQUEST"]


async def test_a_chunked_body_is_cut_off_once_it_passes_the_limit(
    make_client: ClientFactory,
) -> None:
    """413 as soon as the limit is passed; the rest is read and dropped (so the client reads
    its 413 instead of a reset), but only up to a bound: an endless body is not read forever."""
    client = await make_client(max_request_bytes=1024)
    sent = 0
    chunk = 65536

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        while sent < 4 * DRAIN_MAX_BYTES:
            sent += chunk
            yield b" " * chunk

    response = await client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert sent <= DRAIN_MAX_BYTES + 2 * chunk


async def test_deeply_nested_json_is_a_400_not_a_500(make_client: ClientFactory) -> None:
    client = await make_client()
    depth = 20_000
    body = '{"query": "{ __typename }", "variables": {"v": ' + "[" * depth + "]" * depth + "}}"
    response = await client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert codes(response) == ["BAD_REQUEST"]


async def test_repeated_operations_reuse_the_parsed_and_validated_document(
    make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def counted(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return function(*args, **kwargs)

        return call

    monkeypatch.setattr(limits, "parse", counted("parse", limits.parse))
    monkeypatch.setattr(limits, "validate_document", counted("validate", limits.validate_document))
    client = await make_client()
    query = "query CacheProbe { __typename }"
    for _ in range(4):
        assert (await gql(client, query)).status_code == 200
    assert calls == ["parse", "validate"]
    assert (await gql(client, "query Other { __typename }")).status_code == 200
    assert calls == ["parse", "validate"] * 2


async def test_a_limit_error_is_not_cached_into_a_pass(make_client: ClientFactory) -> None:
    """The same text under a stricter limit is refused: limits are part of the cache key."""
    lenient = await make_client()
    strict = await make_client(graphql_max_aliases=1)
    query = "{ a: __typename b: __typename }"
    assert (await gql(lenient, query)).status_code == 200
    assert (await gql(strict, query)).status_code == 400
