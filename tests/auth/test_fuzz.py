"""Fuzzing the header parser and the verifier: whatever comes in, only AuthError comes out."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar, get_args

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auth.bearer import bearer_token
from auth.errors import AuthError, Reason
from auth.jwks import JWKSClient
from auth.user import AuthenticatedUser
from auth.verify import AuthConfig, TokenVerifier
from tests.support.apps import make_settings, running_app
from tests.support.databases import sqlite_copy
from tests.support.strategies import any_json
from tests.support.tokens import TEST_SECRET, LocalKey, b64, b64json, hmac_token

T = TypeVar("T")
JWKS_URL = "https://auth.example.com/api/auth/jwks"
ISSUER = "https://auth.example.com"
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REASONS = set(get_args(Reason))
ALGS = ["HS256", "HS512", "EdDSA", "ES256", "ES512", "RS256", "PS256", "none", "None", "dir", ""]


class Harness:
    """A verifier with both key sources, driven on an event loop of its own."""

    def __init__(self, key: LocalKey) -> None:
        self.loop = asyncio.new_event_loop()
        document = {"keys": [key.public_jwk, LocalKey("k" * 32).public_jwk]}
        transport = httpx.MockTransport(lambda _: httpx.Response(200, json=document))
        self.http = httpx.AsyncClient(transport=transport)
        self.jwks = JWKSClient(JWKS_URL, http=self.http)
        config = AuthConfig.build(
            secret=TEST_SECRET,
            jwks_url=JWKS_URL,
            issuer=ISSUER,
            audience=(ISSUER,),
            algorithms=(),
            leeway=30,
        )
        self.verifier = TokenVerifier(config, self.jwks)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def outcome(self, token: str) -> AuthenticatedUser | AuthError:
        try:
            return self.run(self.verifier.verify(token))
        except AuthError as error:
            check_auth_error(error, token)
            return error

    def close(self) -> None:
        self.run(self.http.aclose())
        self.loop.close()


def check_auth_error(error: AuthError, token: str) -> None:
    assert error.reason in REASONS
    assert error.message.startswith(("Invalid token: ", "Token has expired.", "Invalid auth"))
    if len(token) >= 8:
        assert token not in error.message


@pytest.fixture(scope="module")
def fuzz_key() -> LocalKey:
    return LocalKey()


@pytest.fixture(scope="module")
def harness(fuzz_key: LocalKey) -> Iterator[Harness]:
    harness = Harness(fuzz_key)
    yield harness
    harness.close()


json_values = any_json(text=12, keys=6, items=3, leaves=6)
now = int(time.time())
times = st.integers(now - 2000, now + 2000) | json_values
claim_sets = st.fixed_dictionaries(
    {},
    optional={
        "sub": st.sampled_from(["user-a", "", " "]) | json_values,
        "exp": times,
        "iat": times,
        "nbf": times,
        "iss": st.just(ISSUER) | json_values,
        "aud": st.just(ISSUER) | st.just([ISSUER, "x"]) | json_values,
        "email": json_values,
        "name": json_values,
    },
)
headers = st.fixed_dictionaries(
    {"alg": st.sampled_from(ALGS) | json_values},
    optional={
        "kid": st.sampled_from(["k" * 32, "unknown"]) | json_values,
        "typ": json_values,
        "crit": json_values,
        "enc": json_values,
    },
)
b64_text = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/.", max_size=40
)


@FUZZ
@given(
    header=st.text()
    | st.text(alphabet=st.characters(max_codepoint=255))
    | st.builds(
        "{} {}".format,
        st.sampled_from(["Bearer", "bearer", "BEARER", "Basic", "Token", ""]),
        st.text(),
    )
)
def test_any_authorization_header_gives_a_token_none_or_auth_error(
    harness: Harness, header: str
) -> None:
    try:
        token = bearer_token(header)
    except AuthError as error:
        assert error.reason in {"bad_header", "bad_scheme"}
        return
    assert token is not None and token.strip() == token and token
    assert isinstance(harness.outcome(token), AuthError)


@FUZZ
@given(parts=st.lists(st.binary(max_size=48) | b64_text, min_size=1, max_size=6))
def test_random_segments_only_ever_raise_auth_error(harness: Harness, parts: list[Any]) -> None:
    token = ".".join(b64(part) if isinstance(part, bytes) else part for part in parts)
    assert isinstance(harness.outcome(token), AuthError)


@FUZZ
@given(header=headers, claims=claim_sets, signature=st.binary(max_size=80))
def test_random_json_headers_and_claims_only_ever_raise_auth_error(
    harness: Harness, header: dict[str, Any], claims: dict[str, Any], signature: bytes
) -> None:
    token = f"{b64json(header)}.{b64json(claims)}.{b64(signature)}"
    assert isinstance(harness.outcome(token), AuthError)


@FUZZ
@given(claims=claim_sets, extra_header=headers)
def test_validly_signed_hs256_tokens_with_random_claims_never_crash(
    harness: Harness, claims: dict[str, Any], extra_header: dict[str, Any]
) -> None:
    header = {**extra_header, "alg": "HS256"}
    token = hmac_token(header, claims, TEST_SECRET.encode())
    outcome = harness.outcome(token)
    if isinstance(outcome, AuthenticatedUser):
        assert_acceptable(outcome, claims)


@FUZZ
@given(claims=claim_sets)
def test_validly_signed_eddsa_tokens_with_random_claims_never_crash(
    harness: Harness, fuzz_key: LocalKey, claims: dict[str, Any]
) -> None:
    outcome = harness.outcome(fuzz_key.sign(claims))
    if isinstance(outcome, AuthenticatedUser):
        assert_acceptable(outcome, claims)


def assert_acceptable(user: AuthenticatedUser, claims: dict[str, Any]) -> None:
    """What an accepted token must have had: SPEC §4's required and checked claims."""
    assert isinstance(claims["sub"], str) and claims["sub"].strip()
    assert user.user_id == claims["sub"]
    assert isinstance(claims["exp"], int | float) and claims["exp"] >= now - 2000
    assert claims["iss"] == ISSUER
    assert ISSUER in ([claims["aud"]] if isinstance(claims["aud"], str) else claims["aud"])


class HttpHarness:
    """The real app in its lifespan, entered on a loop of its own, for per-example requests."""

    def __init__(self, database_url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._running = running_app(make_settings(database_url, jwt_issuer=ISSUER))
        self.client = self.loop.run_until_complete(self._running.__aenter__()).client

    def post(self, authorization: bytes) -> httpx.Response:
        body = json.dumps({"query": "{ me { id } }"})
        headers = [(b"content-type", b"application/json"), (b"authorization", authorization)]
        return self.loop.run_until_complete(
            self.client.post("/graphql", content=body, headers=headers)
        )

    def close(self) -> None:
        self.loop.run_until_complete(self._running.__aexit__(None, None, None))
        self.loop.close()


@pytest.fixture(scope="module")
def http_harness(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[HttpHarness]:
    harness = HttpHarness(sqlite_copy(sqlite_template, tmp_path_factory.mktemp("fuzz-db")))
    yield harness
    harness.close()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    authorization=st.binary(max_size=200).map(
        lambda raw: raw.replace(b"\r", b"").replace(b"\n", b"")
    )
    | st.builds(lambda token: b"Bearer " + token.encode("latin-1"), b64_text)
)
def test_any_authorization_header_over_http_is_answered_without_5xx(
    http_harness: HttpHarness, authorization: bytes
) -> None:
    response = http_harness.post(authorization)

    assert response.status_code in {200, 401}, response.text
    if response.status_code == 401:
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
