"""A JWKS endpoint that is down or answers garbage: cached keys work, the rest is 401, never 500.

A real loopback HTTP server stands in for the issuer here, because only a server we control can
answer garbage; tests/interop repeats the outage with a real Better Auth server that stops.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.support.apps import AppFactory, RunningApp
from tests.support.graphql import unauthenticated
from tests.support.jwks import JwksServer, closed_jwks_url
from tests.support.timing import FakeClock
from tests.support.tokens import LocalKey, b64json, claims_for

COOLDOWN, REFRESH = 30.0, 300.0  # seconds on the jwks_clock, which moves only when told
UNKNOWN_KEY = ("unknown_key", "Invalid token: unknown signing key")
UNUSABLE_KEY = ("unknown_key", "Invalid token: signing key is not usable")

OUTAGES: dict[str, Callable[[JwksServer], None]] = {
    "server stopped": lambda server: server.stop(),
    "HTTP 503": lambda server: server.serve(b"upstream down", status=503),
    "HTML instead of JSON": lambda server: server.serve(b"<html>oops</html>"),
    "JSON that is not a key set": lambda server: server.serve(b'{"keys": "nope"}'),
    "a JSON list": lambda server: server.serve(b"[1, 2, 3]"),
}


async def jwks_app(build_app: AppFactory, url: str) -> RunningApp:
    return await build_app(
        better_auth_secret=None,
        jwt_jwks_url=url,
        jwks_cooldown_seconds=COOLDOWN,
        jwks_refresh_seconds=REFRESH,
    )


def settle(clock: FakeClock) -> None:
    """Past the cooldown and the refresh interval: the next request tries the endpoint again."""
    clock.advance(max(COOLDOWN, REFRESH))


@pytest.mark.parametrize("outage", OUTAGES)
async def test_a_warm_cache_keeps_working_through_a_jwks_outage(
    build_app: AppFactory,
    jwks_server: JwksServer,
    jwks_clock: FakeClock,
    local_key: LocalKey,
    outage: str,
) -> None:
    jwks_server.serve_keys(local_key)
    taskql = await jwks_app(build_app, jwks_server.url)
    assert (await taskql.me(local_key.sign(claims_for("user-a")))).status_code == 200

    OUTAGES[outage](jwks_server)
    settle(jwks_clock)
    fetches_before = taskql.jwks.fetch_count

    # Another user's token is not in the verifier's cache: its key comes from the JWKS cache.
    response = await taskql.me(local_key.sign(claims_for("user-b")))
    assert response.status_code == 200, response.text
    assert response.json()["data"]["me"]["id"] == "user-b"

    settle(jwks_clock)
    stranger = LocalKey()
    response = await taskql.me(stranger.sign(claims_for("user-c")))
    assert unauthenticated(response) == UNKNOWN_KEY
    assert taskql.jwks.fetch_count > fetches_before  # the outage was really met, and survived
    assert taskql.jwks.loaded


@pytest.fixture(params=OUTAGES)
def broken_jwks(request: pytest.FixtureRequest, jwks_server: JwksServer) -> JwksServer:
    """The JWKS endpoint in one of the OUTAGES from the start."""
    OUTAGES[request.param](jwks_server)
    return jwks_server


async def test_no_cache_and_a_broken_jwks_endpoint_is_401_not_500(
    build_app: AppFactory, broken_jwks: JwksServer, jwks_clock: FakeClock, local_key: LocalKey
) -> None:
    taskql = await jwks_app(build_app, broken_jwks.url)

    fetches = []
    for _ in range(2):  # each tries the endpoint once, then meets the cooldown
        response = await taskql.me(local_key.sign(claims_for("user-a")))
        assert unauthenticated(response) == UNKNOWN_KEY
        fetches.append(taskql.jwks.fetch_count)
        settle(jwks_clock)
    assert fetches == [1, 2]
    assert not taskql.jwks.loaded


async def test_a_jwks_url_nobody_listens_on_is_401_not_500(
    build_app: AppFactory, local_key: LocalKey
) -> None:
    taskql = await jwks_app(build_app, closed_jwks_url())

    response = await taskql.me(local_key.sign(claims_for()))

    assert unauthenticated(response) == UNKNOWN_KEY
    assert taskql.jwks.fetch_count >= 1
    assert not taskql.jwks.loaded


@pytest.mark.parametrize(
    "garbage",
    [
        {"kty": "OKP", "crv": "Ed25519", "x": "zz", "alg": "EdDSA"},
        {"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA"},
        {"kty": "OKP", "crv": "X25519", "x": "AAAA", "alg": "EdDSA"},
    ],
    ids=["short x", "no x", "wrong curve"],
)
async def test_garbage_key_material_under_the_tokens_kid_is_401_not_500(
    build_app: AppFactory, jwks_server: JwksServer, local_key: LocalKey, garbage: dict[str, str]
) -> None:
    jwks_server.serve(json.dumps({"keys": [{**garbage, "kid": local_key.kid}]}).encode())
    taskql = await jwks_app(build_app, jwks_server.url)

    response = await taskql.me(local_key.sign(claims_for()))

    assert unauthenticated(response) == UNUSABLE_KEY


@pytest.mark.parametrize(
    ("alg", "garbage"),
    [
        ("ES256", {"kty": "EC", "crv": "P-256", "x": "zz", "y": "zz"}),
        ("ES256", {"kty": "EC", "crv": "P-256"}),
        ("RS256", {"kty": "RSA", "n": "zz", "e": "AQAB"}),
        ("PS256", {"kty": "RSA"}),
    ],
    ids=["EC point off the curve", "EC without x and y", "RSA tiny modulus", "RSA without n"],
)
async def test_garbage_ec_and_rsa_keys_are_401_not_500(
    build_app: AppFactory,
    jwks_server: JwksServer,
    local_key: LocalKey,
    alg: str,
    garbage: dict[str, str],
) -> None:
    kid = "k" * 32
    jwks_server.serve(json.dumps({"keys": [{**garbage, "alg": alg, "kid": kid}]}).encode())
    taskql = await jwks_app(build_app, jwks_server.url)
    _, payload, signature = local_key.sign(claims_for(), kid=kid).split(".")
    forged = f"{b64json({'alg': alg, 'kid': kid})}.{payload}.{signature}"
    response = await taskql.me(forged)

    assert unauthenticated(response) == UNUSABLE_KEY
