"""Hostile and broken tokens in shared-secret (HS256) mode: each is a 401 with the right reason.

The JWKS-mode attacks, with keys from a real Better Auth server, are in tests/interop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support.apps import AppFactory, RunningApp
from tests.support.graphql import gql, unauthenticated
from tests.support.jwks import JwksServer
from tests.support.tokens import TEST_SECRET, b64json, hmac_token, hs256_token

ISSUER = "https://auth.example.com"
AUDIENCE = "taskql"
EXPIRED = "Token has expired. Please log in again."


def claims(**changes: Any) -> dict[str, Any]:
    """Good claims, then `changes` (a value of ... removes the claim)."""
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "user-a",
        "iat": now,
        "exp": now + 900,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "email": "a@example.com",
    }
    base.update(changes)
    return {name: value for name, value in base.items() if value is not ...}


def signed(header: dict[str, Any] | None = None, **changes: Any) -> str:
    return hmac_token(header or {"alg": "HS256", "typ": "JWT"}, claims(**changes), _SECRET)


_SECRET = TEST_SECRET.encode()


def _tampered() -> str:
    header, _, signature = signed().split(".")
    return f"{header}.{b64json(claims(sub='user-b'))}.{signature}"


def _alg_none(alg: str) -> str:
    return f"{b64json({'alg': alg, 'typ': 'JWT'})}.{b64json(claims())}."


def _resigned_as(alg: str) -> str:
    """A valid HS256 signature under a header that names another alg."""
    token = signed()
    _, payload, signature = token.split(".")
    return f"{b64json({'alg': alg})}.{payload}.{signature}"


NOW = int(time.time())
# name -> (token factory, reason, the message's detail after "Invalid token: ")
ATTACKS: dict[str, tuple[Callable[[], str], str, str]] = {
    "alg none": (lambda: _alg_none("none"), "bad_signature", "signing algorithm not allowed"),
    "alg None": (lambda: _alg_none("None"), "bad_signature", "signing algorithm not allowed"),
    "alg missing": (
        lambda: f"{b64json({'typ': 'JWT'})}.{b64json(claims())}.",
        "bad_signature",
        "signing algorithm not allowed",
    ),
    "HS512 not allowed": (
        lambda: _resigned_as("HS512"),
        "bad_signature",
        "signing algorithm not allowed",
    ),
    "EdDSA without a key set": (
        lambda: _resigned_as("EdDSA"),
        "bad_signature",
        "signing algorithm not allowed",
    ),
    "tampered payload": (_tampered, "bad_signature", "signature verification failed"),
    "wrong secret": (
        lambda: hmac_token({"alg": "HS256"}, claims(), b"another-secret-that-is-long-enough-xx"),
        "bad_signature",
        "signature verification failed",
    ),
    "signature stripped": (
        lambda: signed().rsplit(".", 1)[0] + ".",
        "bad_signature",
        "signature verification failed",
    ),
    "expired": (lambda: signed(iat=NOW - 3600, exp=NOW - 1800), "expired", ""),
    "nbf in the future": (
        lambda: signed(nbf=NOW + 3600),
        "bad_claims",
        "token is not yet valid",
    ),
    "iat far in the future": (
        lambda: signed(iat=NOW + 3600, exp=NOW + 7200),
        "bad_claims",
        "token issued in the future",
    ),
    "wrong iss": (lambda: signed(iss="https://evil.example"), "bad_claims", "wrong issuer"),
    "missing iss": (lambda: signed(iss=...), "bad_claims", "wrong issuer"),
    "wrong aud": (lambda: signed(aud="someone-else"), "bad_claims", "wrong audience"),
    "aud list without ours": (lambda: signed(aud=["x", "y"]), "bad_claims", "wrong audience"),
    "missing aud": (lambda: signed(aud=...), "bad_claims", "wrong audience"),
    "missing sub": (lambda: signed(sub=...), "bad_claims", "sub claim missing"),
    "empty sub": (lambda: signed(sub=""), "bad_claims", "sub must be a non-empty string"),
    "blank sub": (lambda: signed(sub="   "), "bad_claims", "sub must be a non-empty string"),
    "numeric sub": (lambda: signed(sub=42), "bad_claims", "sub must be a string"),
    "null sub": (lambda: signed(sub=None), "bad_claims", "sub must be a string"),
    "missing exp": (lambda: signed(exp=...), "bad_claims", "exp claim missing"),
    "string exp": (lambda: signed(exp=str(NOW + 900)), "bad_claims", "exp must be a number"),
    "null exp": (lambda: signed(exp=None), "bad_claims", "time claims must be numbers"),
    "infinite exp": (
        lambda: signed(exp=float("inf")),
        "bad_claims",
        "time claims must be numbers",
    ),
    "list iat": (lambda: signed(iat=[NOW]), "bad_claims", "time claims must be numbers"),
    "object nbf": (lambda: signed(nbf={}), "bad_claims", "time claims must be numbers"),
    "claims not an object": (
        lambda: hmac_token({"alg": "HS256"}, ["sub", "user-a"], _SECRET),  # type: ignore[arg-type]
        "malformed",
        "token could not be decoded",
    ),
    "garbage": (lambda: "garbage", "malformed", "not a JSON Web Token"),
    "three garbage parts": (
        lambda: "not.a.jwt",
        "malformed",
        "token header could not be decoded",
    ),
    "header is a JSON list": (
        lambda: f"{b64json(['HS256'])}.{b64json(claims())}.c2ln",
        "malformed",
        "token header could not be decoded",
    ),
    "kid is a number": (
        lambda: signed({"alg": "HS256", "kid": 7}),
        "malformed",
        "kid must be a string",
    ),
    "crit header": (
        lambda: signed({"alg": "HS256", "crit": ["exp"]}),
        "malformed",
        "unsupported token header",
    ),
    "five-part JWE": (
        lambda: ".".join([b64json({"alg": "dir", "enc": "A256GCM"}), "", "aXY", "Y3Q", "dGFn"]),
        "malformed",
        "encrypted tokens (JWE) are not accepted",
    ),
    "JWE header on a JWS": (
        lambda: signed({"alg": "HS256", "enc": "A256GCM"}),
        "malformed",
        "unsupported token header",
    ),
}


@pytest.fixture
async def taskql(build_app: AppFactory) -> RunningApp:
    return await build_app(jwt_issuer=ISSUER, jwt_audience=[AUDIENCE])


@pytest.mark.parametrize("attack", ATTACKS)
async def test_attack_token_is_401_with_its_reason(taskql: RunningApp, attack: str) -> None:
    make_token, reason, detail = ATTACKS[attack]
    token = make_token()

    response = await taskql.me(token)

    message = EXPIRED if reason == "expired" else f"Invalid token: {detail}"
    assert unauthenticated(response) == (reason, message)
    assert token not in response.text


async def test_a_good_token_with_the_configured_iss_and_aud_passes(taskql: RunningApp) -> None:
    response = await taskql.me(signed())

    assert response.status_code == 200, response.text
    assert response.json()["data"]["me"] == {"id": "user-a", "email": "a@example.com", "name": None}


async def test_an_audience_list_containing_ours_passes(taskql: RunningApp) -> None:
    response = await taskql.me(signed(aud=["other", AUDIENCE]))

    assert response.status_code == 200, response.text


async def test_expiry_within_the_leeway_still_passes(taskql: RunningApp) -> None:
    response = await taskql.me(signed(iat=NOW - 900, exp=int(time.time()) - 10))

    assert response.status_code == 200, response.text


async def test_a_zero_leeway_rejects_a_just_expired_token(build_app: AppFactory) -> None:
    strict = await build_app(jwt_leeway_seconds=0)
    now = int(time.time())

    response = await strict.me(signed(iss=..., aud=..., iat=now - 900, exp=now - 2))

    assert unauthenticated(response) == ("expired", EXPIRED)


async def test_a_100_kb_authorization_header_is_401_not_5xx(taskql: RunningApp) -> None:
    header, payload, signature = signed().split(".")
    huge = f"{header}.{payload}{'A' * 100_000}.{signature}"

    response = await taskql.me(huge)

    assert response.status_code in {401, 431}
    if response.status_code == 401:
        assert unauthenticated(response) == ("malformed", "Invalid token: token is too large")


async def test_hs256_needs_the_secret_even_when_the_token_is_otherwise_good(
    build_app: AppFactory, jwks_server: JwksServer
) -> None:
    jwks_only = await build_app(better_auth_secret=None, jwt_jwks_url=jwks_server.url)

    response = await jwks_only.me(signed(iss=..., aud=...))

    assert unauthenticated(response) == (
        "bad_signature",
        "Invalid token: signing algorithm not allowed",
    )


@pytest.mark.parametrize("sub", ["a\x00b", "tab\there", "x" * 256])
async def test_a_subject_the_owner_column_cannot_hold_is_bad_claims(
    client: httpx.AsyncClient, sub: str
) -> None:
    response = await gql(client, "{ me { id } }", token=hs256_token(sub))
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["reason"] == "bad_claims"
