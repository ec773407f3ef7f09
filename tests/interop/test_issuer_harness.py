"""Self-test of the Better Auth harness: real tokens match what BETTER_AUTH.md measured."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.better_auth import (
    ALGORITHMS,
    BetterAuthIssuer,
    IssuerStartupError,
    ensure_installed,
)
from tests.support.timing import wait_until
from tests.support.tokens import decode_unverified

pytestmark = pytest.mark.interop

KEY_SHAPE = {
    "EdDSA": {"kty": "OKP", "crv": "Ed25519"},
    "ES256": {"kty": "EC", "crv": "P-256"},
    "ES512": {"kty": "EC", "crv": "P-521"},
    "RS256": {"kty": "RSA", "e": "AQAB"},
    "PS256": {"kty": "RSA", "e": "AQAB"},
}


@pytest.fixture(scope="module", params=ALGORITHMS)
def issuer(request: pytest.FixtureRequest, better_auth_install: Path) -> Iterator[BetterAuthIssuer]:
    with BetterAuthIssuer(alg=request.param) as iss:
        yield iss


def test_token_header_and_claims(issuer: BetterAuthIssuer) -> None:
    session = issuer.sign_up(name="Alice")
    header, claims = decode_unverified(session.token())

    assert header["alg"] == issuer.alg
    assert isinstance(header["kid"], str) and len(header["kid"]) == 32
    assert set(header) == {"alg", "kid"}  # no typ

    assert claims["sub"] == session.user_id
    assert claims["iss"] == issuer.url
    assert claims["aud"] == issuer.url
    assert claims["exp"] - claims["iat"] == 900
    assert abs(claims["iat"] - time.time()) < 60
    assert claims["email"] == session.email
    assert claims["name"] == "Alice"
    assert claims["emailVerified"] is False
    assert "nbf" not in claims and "jti" not in claims


def test_jwks_lists_the_token_kid(issuer: BetterAuthIssuer) -> None:
    kid = decode_unverified(issuer.sign_up().token())[0]["kid"]
    response = httpx.get(issuer.jwks_url, trust_env=False)
    assert response.status_code == 200
    assert "cache-control" not in response.headers
    assert "etag" not in response.headers

    keys = {key["kid"]: key for key in response.json()["keys"]}
    assert kid in keys
    key = keys[kid]
    assert key["alg"] == issuer.alg
    assert "use" not in key
    for field, value in KEY_SHAPE[issuer.alg].items():
        assert key[field] == value
    assert "d" not in key  # public half only
    assert issuer.jwks() == response.json()


def test_token_needs_the_session_cookie(better_auth_issuer: BetterAuthIssuer) -> None:
    response = better_auth_issuer.http.get("/api/auth/token")
    assert response.status_code == 401


def test_get_session_returns_jwt_header_and_sign_in(better_auth_issuer: BetterAuthIssuer) -> None:
    first = better_auth_issuer.sign_up()
    second = better_auth_issuer.sign_in(first.email)
    assert second.user_id == first.user_id
    assert second.session_token != first.session_token

    body, jwt = second.get_session()
    assert body["user"]["id"] == first.user_id
    assert jwt is not None
    header, claims = decode_unverified(jwt)
    assert header["alg"] == "EdDSA"
    assert claims["sub"] == first.user_id


def test_rotation_mints_new_kid_and_keeps_old_listed(better_auth_install: Path) -> None:
    with BetterAuthIssuer(rotation_interval=1) as issuer:
        session = issuer.sign_up()
        old_kid = decode_unverified(session.token())[0]["kid"]
        assert issuer.kids() == [old_kid]

        started = time.monotonic()
        new_token = issuer.force_rotation(session)
        elapsed = time.monotonic() - started
        new_kid = decode_unverified(new_token)[0]["kid"]

        assert new_kid != old_kid
        assert elapsed < 5
        assert set(issuer.kids()) == {old_kid, new_kid}  # old one kept for gracePeriod (30 d)
        assert decode_unverified(session.token())[0]["kid"] == new_kid


def test_old_key_leaves_jwks_after_grace_period(better_auth_install: Path) -> None:
    with BetterAuthIssuer(rotation_interval=2, grace_period=1) as issuer:
        session = issuer.sign_up()
        old_kid = decode_unverified(session.token())[0]["kid"]
        new_kid = decode_unverified(issuer.force_rotation(session))[0]["kid"]
        # old key: expired at ~t+2, listed until ~t+3; new key listed until ~t+5
        wait_until(
            lambda: old_kid not in issuer.kids(),
            within=5,
            interval=0.1,
            message="old key never left the JWKS",
        )
        assert issuer.kids() == [new_kid]


def test_audience_list_issuer_narrow_payload(better_auth_install: Path) -> None:
    with BetterAuthIssuer(
        alg="ES256",
        issuer="https://issuer.test",
        audience=["taskql", "other"],
        expiration_time=60,
        payload="narrow",
    ) as issuer:
        session = issuer.sign_up(name="Bob")
        header, claims = decode_unverified(session.token())
    assert header["alg"] == "ES256"
    assert set(claims) == {"email", "name", "iat", "sub", "exp", "iss", "aud"}
    assert claims["iss"] == "https://issuer.test"
    assert claims["aud"] == ["taskql", "other"]
    assert claims["exp"] - claims["iat"] == 60
    assert claims["sub"] == session.user_id
    assert claims["name"] == "Bob"


def test_sign_jwt_with_the_real_key(better_auth_issuer: BetterAuthIssuer) -> None:
    now = int(time.time())
    token = better_auth_issuer.sign_jwt({"sub": "someone", "iat": now - 1000, "exp": now - 100})
    header, claims = decode_unverified(token)
    assert header["kid"] in better_auth_issuer.kids()
    assert claims == {
        "sub": "someone",
        "iat": now - 1000,
        "exp": now - 100,
        "iss": better_auth_issuer.url,
        "aud": better_auth_issuer.url,
    }


def test_startup_failure_reports_node_stderr(better_auth_install: Path) -> None:
    with pytest.raises(IssuerStartupError, match="unsupported --alg HS256"):
        BetterAuthIssuer(alg="HS256").start()


def test_stop_leaves_no_process(better_auth_install: Path) -> None:
    issuer = BetterAuthIssuer()
    with issuer:
        pid = issuer.pid
        assert pid is not None and issuer.running
    assert not issuer.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_install_is_reused(better_auth_install: Path) -> None:
    started = time.monotonic()
    assert ensure_installed() == better_auth_install
    assert time.monotonic() - started < 1
    assert (better_auth_install / "node_modules" / "better-auth" / "package.json").exists()
