"""Tokens as issuers sign them: HS256 with the tests' secret, EdDSA with a local key, or by hand."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from jose import jwt

from auth import keys
from auth.keys import EdDSAKey

TEST_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
TokenFactory = Callable[..., str]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64json(value: object) -> str:
    return b64(json.dumps(value).encode())


def _segment(segment: str) -> dict[str, Any]:
    value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    if not isinstance(value, dict):
        raise ValueError("JWT segment is not a JSON object")
    return value


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(header, claims)`` of a compact JWS, verifying nothing."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError(f"not a compact JWS: {len(parts)} segments")
    return _segment(parts[0]), _segment(parts[1])


def claims_for(sub: str = "user-a", ttl: int = 900, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": sub, "iat": now, "exp": now + ttl, **extra}


def hs256_token(sub: str = "user-a", *, ttl: int = 900, **claims: Any) -> str:
    """A token the tests' apps accept (they share TEST_SECRET), valid for `ttl` seconds."""
    return str(jwt.encode(claims_for(sub, ttl, **claims), TEST_SECRET, algorithm="HS256"))


def hmac_token(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """HS256 by hand: python-jose refuses PEM-looking HMAC secrets, an attacker does not."""
    signing_input = f"{b64json(header)}.{b64json(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


class LocalKey:
    """An Ed25519 key pair with a Better Auth-shaped public JWK (32-character kid, no `use`)."""

    def __init__(self, kid: str | None = None) -> None:
        self.kid = kid or uuid.uuid4().hex
        self._private = ed25519.Ed25519PrivateKey.generate()

    @property
    def public_jwk(self) -> dict[str, str]:
        return {**EdDSAKey(self._private.public_key(), "EdDSA").to_dict(), "kid": self.kid}

    def sign(
        self, claims: dict[str, Any], *, kid: str | None = None, alg: str = "EdDSA", **headers: Any
    ) -> str:
        """A token as Better Auth signs it: header {alg, kid}, no typ (plus any `headers`);
        `alg="Ed25519"` names the algorithm as RFC 9864 does."""
        keys.register()  # python-jose signs EdDSA only once taught to; taskql teaches it lazily
        private = EdDSAKey(self._private, alg).to_dict()
        headers = {"kid": kid or self.kid, **headers}
        return str(jwt.encode(claims, private, algorithm=alg, headers=headers))
