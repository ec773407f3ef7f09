from __future__ import annotations

import httpx

from tests.support.graphql import gql


async def test_typename_answers_without_a_token(client: httpx.AsyncClient) -> None:
    response = await gql(client, "{ __typename }")
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok"}
