"""One verification per request, not per resolver; one JWKS download, not one per token."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from auth.user import AuthenticatedUser
from tests.support.apps import AppFactory
from tests.support.graphql import INTROSPECTION, gql
from tests.support.jwks import JwksServer
from tests.support.tokens import LocalKey, claims_for, hs256_token

MANY_FIELDS = """
query ($me: ID!) {
  a: me { id }
  b: me { id email }
  c: tasks(userId: $me) { total items { id } pageInfo { hasNextPage } }
}
"""
# Several database-backed root fields: graphql-core resolves them concurrently.
CONCURRENT_FIELDS = """
query ($me: ID!) {
  c: tasks(userId: $me) { total }
  d: tasks(userId: $me, first: 5) { items { id title } }
  e: task(userId: $me, id: "1") { id }
}
"""
MANY_MUTATIONS = """
mutation ($me: ID!) {
  one: createTask(userId: $me, input: {title: "one"}) { id }
  two: createTask(userId: $me, input: {title: "two"}) { id }
  three: createTask(userId: $me, input: {title: "three"}) { title }
}
"""


@pytest.fixture
def verify_calls(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token the app's TokenVerifier.verify is called with, in order."""
    verifier = app.state.services.verifier
    original = verifier.verify
    calls: list[str] = []

    async def counting(token: str) -> AuthenticatedUser:
        calls.append(token)
        user: AuthenticatedUser = await original(token)
        return user

    monkeypatch.setattr(verifier, "verify", counting)
    return calls


async def sent_by_user_a(client: httpx.AsyncClient, document: str) -> tuple[httpx.Response, str]:
    """`document` answered 200 for user-a (as `$me`), and the token it went with."""
    token = hs256_token("user-a")
    response = await gql(client, document, {"me": "user-a"}, token=token)
    assert response.status_code == 200, response.text
    return response, token


async def test_a_query_with_many_task_fields_verifies_the_token_once(
    client: httpx.AsyncClient, verify_calls: list[str]
) -> None:
    response, token = await sent_by_user_a(client, MANY_FIELDS)

    assert response.json()["data"]["c"]["total"] == 0
    assert verify_calls == [token]


async def test_a_query_with_several_database_fields_answers_them_all(
    client: httpx.AsyncClient, verify_calls: list[str]
) -> None:
    _, token = await sent_by_user_a(client, CONCURRENT_FIELDS)

    assert verify_calls == [token]


async def test_a_mutation_with_many_fields_verifies_the_token_once(
    client: httpx.AsyncClient, verify_calls: list[str]
) -> None:
    response, token = await sent_by_user_a(client, MANY_MUTATIONS)

    assert response.json()["data"]["three"] == {"title": "three"}
    assert verify_calls == [token]


async def test_each_request_verifies_its_own_token_once(
    client: httpx.AsyncClient, verify_calls: list[str]
) -> None:
    tokens = [hs256_token(f"user-{n}") for n in range(3)]

    for token in tokens:
        assert (await gql(client, "{ me { id } }", token=token)).status_code == 200

    assert verify_calls == tokens


async def test_anonymous_introspection_verifies_nothing(
    client: httpx.AsyncClient, verify_calls: list[str]
) -> None:
    assert (await gql(client, INTROSPECTION)).status_code == 200
    assert verify_calls == []


async def test_the_jwks_is_fetched_once_for_many_requests_and_tokens(
    build_app: AppFactory, jwks_server: JwksServer, local_key: LocalKey
) -> None:
    jwks_server.serve_keys(local_key)
    taskql = await build_app(better_auth_secret=None, jwt_jwks_url=jwks_server.url)

    for n in range(20):
        response = await taskql.me(local_key.sign(claims_for(f"user-{n}")))
        assert response.status_code == 200, response.text

    assert jwks_server.requests == 1
    assert taskql.jwks.fetch_count == 1


async def test_concurrent_first_requests_share_one_jwks_fetch(
    build_app: AppFactory, jwks_server: JwksServer, local_key: LocalKey
) -> None:
    jwks_server.serve_keys(local_key)
    taskql = await build_app(better_auth_secret=None, jwt_jwks_url=jwks_server.url)
    tokens = [local_key.sign(claims_for(f"user-{n}")) for n in range(10)]

    responses = await asyncio.gather(*(taskql.me(token) for token in tokens))

    assert [response.status_code for response in responses] == [200] * 10
    assert jwks_server.requests == 1
