"""The Authorization header over real HTTP: SPEC §3's statuses, messages, reasons and challenge."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.support.apps import AppFactory, RunningApp
from tests.support.graphql import INTROSPECTION, codes, gql, unauthenticated
from tests.support.operations import ME
from tests.support.tokens import TEST_SECRET, hs256_token

MISSING = "Authorization header missing. Include: Authorization: Bearer <token>"
BAD_HEADER = "Invalid authorization header format. Expected: Bearer <token>"


@pytest.fixture
async def taskql(build_app: AppFactory) -> RunningApp:
    return await build_app()


async def test_missing_header_on_me_is_401_with_reason_missing_header(
    client: httpx.AsyncClient,
) -> None:
    response = await gql(client, ME)

    assert unauthenticated(response) == ("missing_header", MISSING)
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_basic_scheme_is_401_with_reason_bad_scheme(client: httpx.AsyncClient) -> None:
    response = await gql(client, ME, headers={"authorization": "Basic xyz"})

    message = "Invalid authentication scheme: Basic. Expected: Bearer"
    assert unauthenticated(response) == ("bad_scheme", message)
    assert response.headers["www-authenticate"] == (
        f'Bearer error="invalid_token", error_description="{message}"'
    )


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer a b", "Bearer a.b.c extra", "", "   ", "Bearer   "],
    ids=["scheme only", "three parts", "token plus junk", "empty", "blank", "scheme and spaces"],
)
async def test_header_not_scheme_and_token_is_401_with_reason_bad_header(
    taskql: RunningApp, header: str
) -> None:
    response = await gql(taskql.client, ME, headers={"authorization": header})

    assert unauthenticated(response) == ("bad_header", BAD_HEADER)


async def test_the_bearer_scheme_is_case_insensitive(taskql: RunningApp) -> None:
    token = hs256_token("user-a")
    response = await gql(taskql.client, ME, headers={"authorization": f"bEaReR {token}"})

    assert response.status_code == 200, response.text
    assert response.json()["data"]["me"]["id"] == "user-a"


async def test_a_long_scheme_is_not_echoed_because_it_may_be_a_credential(
    taskql: RunningApp,
) -> None:
    opaque = "abcdefghijklmnopqrstuvwxyz0123456789ABCD"  # e.g. a session token, wrong way round
    response = await gql(taskql.client, ME, headers={"authorization": f"{opaque} Bearer"})

    reason, message = unauthenticated(response)
    assert reason == "bad_scheme"
    assert message == "Invalid authentication scheme: ?. Expected: Bearer"
    assert opaque[:8] not in response.text + str(response.headers)


async def test_anonymous_introspection_is_200(taskql: RunningApp) -> None:
    response = await taskql.query(INTROSPECTION)

    assert response.status_code == 200
    assert response.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


@pytest.mark.parametrize(
    "header", ["Basic xyz", "Bearer", "Bearer not-a-jwt", f"Bearer {hs256_token(ttl=-3600)}"]
)
async def test_a_bad_header_rejects_even_introspection(taskql: RunningApp, header: str) -> None:
    response = await gql(taskql.client, INTROSPECTION, headers={"authorization": header})

    reason, _ = unauthenticated(response)
    assert reason in {"bad_scheme", "bad_header", "malformed", "expired"}
    assert "data" not in response.json()


async def test_an_operation_without_a_header_mixing_introspection_and_me_is_401(
    taskql: RunningApp,
) -> None:
    response = await taskql.query("{ __typename me { id } }")

    assert response.status_code == 401
    assert codes(response) == ["UNAUTHENTICATED"]


async def test_401_honours_the_graphql_response_media_type(taskql: RunningApp) -> None:
    media = "application/graphql-response+json"
    response = await gql(taskql.client, ME, headers={"authorization": "Basic xyz", "accept": media})

    assert response.status_code == 401
    assert response.headers["content-type"].startswith(media)


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    return f"{header}.{payload[:-2]}xx.{signature}"


FAILING_TOKENS = {
    "expired": hs256_token("user-a", ttl=-3600),
    "tampered": _tampered(hs256_token("user-a")),
    "wrong secret": hs256_token("user-a").rsplit(".", 1)[0] + ".c2lnbmF0dXJlLW9mLW5vYm9keQ",
    "garbage": "eyJhbGciOiJIUzI1NiJ9.garbage-that-is-not-base64-json.c2lnbmF0dXJlLWdhcmJhZ2U",
    "not a JWT": "s3cr3t-session-token-value-0123456789",
}


@pytest.mark.parametrize("kind", FAILING_TOKENS)
async def test_a_failing_token_never_appears_in_the_response_or_the_logs(
    taskql: RunningApp, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    token = FAILING_TOKENS[kind]
    caplog.set_level(logging.DEBUG)

    response = await taskql.me(token)

    unauthenticated(response)
    signature = token.rsplit(".", 1)[-1]
    for secret in (token, signature, TEST_SECRET):
        assert secret not in response.text
        assert all(secret not in value for value in response.headers.values())
        assert secret not in caplog.text
