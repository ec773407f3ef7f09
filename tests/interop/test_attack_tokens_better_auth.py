"""Hostile tokens against taskql in JWKS mode, built from a real Better Auth server's keys/tokens.

Claims Better Auth refuses to sign (a numeric `sub`, no `exp`) are covered in shared-secret mode
by tests/auth/test_attack_tokens.py.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from jose import jwk

from tests.support.apps import AppFactory, RunningApp
from tests.support.better_auth import BetterAuthIssuer
from tests.support.graphql import unauthenticated
from tests.support.tokens import TEST_SECRET, LocalKey, b64json, decode_unverified, hmac_token

pytestmark = pytest.mark.interop

EXPIRED = "Token has expired. Please log in again."
NOT_ALLOWED = ("bad_signature", "Invalid token: signing algorithm not allowed")
BAD_SIGNATURE = ("bad_signature", "Invalid token: signature verification failed")


@dataclass
class Real:
    """A real issuer, one real user's real token, and the public key that signed it."""

    issuer: BetterAuthIssuer
    user_id: str
    token: str

    @property
    def header(self) -> dict[str, Any]:
        return decode_unverified(self.token)[0]

    @property
    def claims(self) -> dict[str, Any]:
        return decode_unverified(self.token)[1]

    @property
    def public_jwk(self) -> dict[str, Any]:
        keys = {key["kid"]: key for key in self.issuer.jwks()["keys"]}
        return dict(keys[self.header["kid"]])

    def sign(self, **payload: Any) -> str:
        """Better Auth's own signJWT with its current key (iss/aud/exp defaulted by it)."""
        return self.issuer.sign_jwt(payload)

    def with_header(self, header: dict[str, Any], signature: str | None = None) -> str:
        _, payload, real_signature = self.token.split(".")
        return f"{b64json(header)}.{payload}.{real_signature if signature is None else signature}"


@pytest.fixture(scope="module", params=["EdDSA", "RS256"])
def real(request: pytest.FixtureRequest, issuer_for: Callable[[str], BetterAuthIssuer]) -> Real:
    issuer = issuer_for(request.param)
    session = issuer.sign_up()
    return Real(issuer, session.user_id, session.token())


@pytest.fixture
async def jwks_only(real: Real, build_app: AppFactory) -> RunningApp:
    return await build_app(better_auth_secret=None, better_auth_url=real.issuer.url)


@pytest.fixture
async def both_sources(real: Real, build_app: AppFactory) -> RunningApp:
    return await build_app(better_auth_secret=TEST_SECRET, better_auth_url=real.issuer.url)


async def test_the_real_token_itself_is_accepted(real: Real, jwks_only: RunningApp) -> None:
    response = await jwks_only.me(real.token)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["me"]["id"] == real.user_id


def public_key_secrets(public_jwk: dict[str, Any]) -> dict[str, bytes]:
    """Every public form an attacker might feed HMAC, hoping a verifier does the same."""
    key = jwk.construct(public_jwk, public_jwk["alg"])
    forms = {"jwk json": json.dumps(public_jwk).encode(), "pem": key.to_pem()}
    if public_jwk["kty"] == "OKP":
        forms["raw x"] = base64.urlsafe_b64decode(public_jwk["x"] + "==")
    else:
        der = serialization.load_pem_public_key(key.to_pem()).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        forms["der"] = der
    return forms


def hs256_with_the_public_key(real: Real) -> list[tuple[str, str]]:
    """(form, token): the real claims signed HS256 with each public form, kid-less or not."""
    return [
        (form, hmac_token(header, real.claims, secret))
        for form, secret in public_key_secrets(real.public_jwk).items()
        for header in ({"alg": "HS256"}, {"alg": "HS256", "kid": real.header["kid"]})
    ]


async def test_hs256_signed_with_the_jwks_public_key_is_refused_in_jwks_only_mode(
    real: Real, jwks_only: RunningApp
) -> None:
    for form, token in hs256_with_the_public_key(real):
        assert unauthenticated(await jwks_only.me(token)) == NOT_ALLOWED, form


async def test_hs256_signed_with_the_jwks_public_key_is_refused_next_to_a_secret(
    real: Real, both_sources: RunningApp
) -> None:
    for form, token in hs256_with_the_public_key(real):
        assert unauthenticated(await both_sources.me(token)) == BAD_SIGNATURE, form


@pytest.mark.parametrize("alg", ["none", "None", "NONE", ""])
async def test_alg_none_with_real_claims_is_refused(
    real: Real, both_sources: RunningApp, alg: str
) -> None:
    token = real.with_header({"alg": alg, "kid": real.header["kid"]}, signature="")
    assert unauthenticated(await both_sources.me(token)) == NOT_ALLOWED


async def test_a_tampered_payload_is_bad_signature(real: Real, jwks_only: RunningApp) -> None:
    header, _, signature = real.token.split(".")
    forged = f"{header}.{b64json({**real.claims, 'sub': 'someone-else'})}.{signature}"
    assert unauthenticated(await jwks_only.me(forged)) == BAD_SIGNATURE


async def test_a_foreign_key_with_an_unknown_kid_is_unknown_key(
    real: Real, jwks_only: RunningApp
) -> None:
    forged = LocalKey().sign(real.claims)
    assert unauthenticated(await jwks_only.me(forged)) == (
        "unknown_key",
        "Invalid token: unknown signing key",
    )


async def test_a_token_carrying_its_own_key_in_jwk_or_jku_is_unknown_key(
    real: Real, jwks_only: RunningApp
) -> None:
    attacker = LocalKey()
    forged = attacker.sign(
        real.claims, jwk=attacker.public_jwk, jku="http://127.0.0.1:9/attacker-jwks"
    )
    assert unauthenticated(await jwks_only.me(forged)) == (
        "unknown_key",
        "Invalid token: unknown signing key",
    )


async def test_a_foreign_key_claiming_a_real_kid_is_bad_signature(
    real: Real, jwks_only: RunningApp
) -> None:
    forged = LocalKey(kid=real.header["kid"]).sign(real.claims)
    expected = (
        BAD_SIGNATURE
        if real.header["alg"] == "EdDSA"
        else ("bad_signature", "Invalid token: algorithm does not match the signing key")
    )
    assert unauthenticated(await jwks_only.me(forged)) == expected


async def test_a_real_signature_under_another_alg_is_refused(
    real: Real, jwks_only: RunningApp
) -> None:
    other = "ES256" if real.header["alg"] == "EdDSA" else "PS256"
    token = real.with_header({"alg": other, "kid": real.header["kid"]})
    assert unauthenticated(await jwks_only.me(token)) == (
        "bad_signature",
        "Invalid token: algorithm does not match the signing key",
    )


def _now() -> int:
    return int(time.time())


CLAIM_ATTACKS: dict[str, tuple[Callable[[str], dict[str, Any]], str, str]] = {
    "expired": (
        lambda sub: {"sub": sub, "iat": _now() - 3600, "exp": _now() - 1800},
        "expired",
        EXPIRED,
    ),
    "nbf in the future": (
        lambda sub: {"sub": sub, "nbf": _now() + 3600},
        "bad_claims",
        "Invalid token: token is not yet valid",
    ),
    "iat far in the future": (
        lambda sub: {"sub": sub, "iat": _now() + 3600},
        "bad_claims",
        "Invalid token: token issued in the future",
    ),
    "wrong iss": (
        lambda sub: {"sub": sub, "iss": "https://evil.example"},
        "bad_claims",
        "Invalid token: wrong issuer",
    ),
    "wrong aud": (
        lambda sub: {"sub": sub, "aud": "https://someone-else.example"},
        "bad_claims",
        "Invalid token: wrong audience",
    ),
    "missing sub": (
        lambda sub: {"email": "nobody@example.com"},
        "bad_claims",
        "Invalid token: sub claim missing",
    ),
    "empty sub": (
        lambda sub: {"sub": ""},
        "bad_claims",
        "Invalid token: sub must be a non-empty string",
    ),
}


@pytest.mark.parametrize("attack", CLAIM_ATTACKS)
async def test_a_really_signed_token_with_bad_claims_is_refused(
    real: Real, jwks_only: RunningApp, attack: str
) -> None:
    payload, reason, message = CLAIM_ATTACKS[attack]
    token = real.sign(**payload(real.user_id))

    assert unauthenticated(await jwks_only.me(token)) == (reason, message)


async def test_a_really_signed_token_with_good_claims_is_accepted(
    real: Real, jwks_only: RunningApp
) -> None:
    response = await jwks_only.me(real.sign(sub=real.user_id, email="signed@example.com"))
    assert response.status_code == 200, response.text
    assert response.json()["data"]["me"]["email"] == "signed@example.com"


@pytest.mark.parametrize(
    ("token", "detail"),
    [
        ("garbage", "not a JSON Web Token"),
        ("a.b.c.d.e", "encrypted tokens (JWE) are not accepted"),
        (
            f"{b64json({'alg': 'RSA-OAEP', 'enc': 'A256GCM'})}.aaaa.iv.ct.tag",
            "encrypted tokens (JWE) are not accepted",
        ),
        ("e30.e30.", "signing algorithm not allowed"),
    ],
    ids=["garbage", "five parts", "real JWE header", "empty header"],
)
async def test_garbage_and_jwe_are_refused_in_jwks_mode(
    jwks_only: RunningApp, token: str, detail: str
) -> None:
    reason, message = unauthenticated(await jwks_only.me(token))
    assert message == f"Invalid token: {detail}"
    assert reason in {"malformed", "bad_signature"}


async def test_a_100_kb_header_is_401_or_431_in_jwks_mode(
    real: Real, jwks_only: RunningApp
) -> None:
    header, payload, signature = real.token.split(".")
    response = await jwks_only.me(f"{header}.{payload}.{signature}{'A' * 100_000}")

    assert response.status_code in {401, 431}
    assert jwks_only.jwks.fetch_count == 0  # refused before any key lookup
