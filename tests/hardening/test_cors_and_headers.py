"""CORS for CORS_ORIGINS only, credentials only when configured, and GraphiQL's security headers."""

from __future__ import annotations

import httpx
import pytest

from tests.support.apps import ClientFactory

FRONT_END = "http://localhost:3000"
STRANGER = "https://evil.example"


def preflight(origin: str) -> dict[str, str]:
    return {
        "origin": origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
    }


async def test_a_preflight_from_an_allowed_origin_is_answered(make_client: ClientFactory) -> None:
    client = await make_client()
    response = await client.options("/graphql", headers=preflight(FRONT_END))
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == FRONT_END
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed
    assert "access-control-allow-credentials" not in response.headers


async def test_a_preflight_from_another_origin_gets_no_allow_origin(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    response = await client.options("/graphql", headers=preflight(STRANGER))
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_a_request_from_another_origin_is_answered_without_allow_origin(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    response = await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"origin": STRANGER}
    )
    assert "access-control-allow-origin" not in response.headers
    allowed = await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"origin": FRONT_END}
    )
    assert allowed.headers["access-control-allow-origin"] == FRONT_END
    assert "x-request-id" in allowed.headers["access-control-expose-headers"].lower()


async def test_cors_origins_setting_names_the_front_ends(make_client: ClientFactory) -> None:
    client = await make_client(cors_origins="https://app.example, https://admin.example")
    for origin in ("https://app.example", "https://admin.example"):
        response = await client.options("/graphql", headers=preflight(origin))
        assert response.headers["access-control-allow-origin"] == origin
    response = await client.options("/graphql", headers=preflight(FRONT_END))
    assert "access-control-allow-origin" not in response.headers


async def test_credentials_are_allowed_only_when_configured(make_client: ClientFactory) -> None:
    client = await make_client(cors_allow_credentials=True)
    response = await client.options("/graphql", headers=preflight(FRONT_END))
    assert response.headers["access-control-allow-credentials"] == "true"


async def test_graphiql_page_carries_its_security_headers(make_client: ClientFactory) -> None:
    client = await make_client(graphiql=True)
    response = await client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    headers = response.headers
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


async def test_a_413_still_carries_cors_headers_so_the_front_end_can_read_it(
    make_client: ClientFactory,
) -> None:
    client: httpx.AsyncClient = await make_client(max_request_bytes=1024)
    response = await client.post(
        "/graphql",
        content=b"x" * 4096,
        headers={"content-type": "application/json", "origin": FRONT_END},
    )
    assert response.status_code == 413
    assert response.headers["access-control-allow-origin"] == FRONT_END


async def test_the_masked_500_carries_cors_headers_too(
    make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from taskql.http import graphql as graphql_http

    def broken(_: str | None) -> str:
        raise RuntimeError("a bug of ours")

    client = await make_client()
    monkeypatch.setattr(graphql_http, "negotiate", broken)
    response = await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"origin": FRONT_END}
    )
    assert response.status_code == 500
    assert response.headers["access-control-allow-origin"] == FRONT_END
    assert "x-request-id" in response.headers
