"""The benchmark's stand-in for Better Auth: an Ed25519 key on a loopback JWKS, and HS256 tokens."""

from __future__ import annotations

import secrets
import time
from typing import Any

from jose import jwt

from tests.support.jwks import JwksServer
from tests.support.tokens import LocalKey

ALGORITHMS = ("HS256", "EdDSA")


class Issuer:
    """Signs tokens shaped like Better Auth's (header {alg, kid}, the user row in the claims)."""

    def __init__(self) -> None:
        self.secret = secrets.token_urlsafe(48)
        self.key = LocalKey()
        self._jwks = JwksServer()
        self._jwks.serve_keys(self.key)

    @property
    def url(self) -> str:
        """The Better Auth base URL: issuer, audience, and <url>/api/auth/jwks."""
        return self._jwks.base_url

    def start(self) -> None:
        self._jwks.start()

    def stop(self) -> None:
        self._jwks.stop()

    def token(self, algorithm: str, user_id: str, ttl: int, **extra: Any) -> str:
        """`extra` claims ride along, e.g. `sid` (definePayload's session id)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iat": now,
            "exp": now + ttl,
            "iss": self.url,
            "aud": self.url,
            "sub": user_id,
            "id": user_id,
            "email": f"{user_id}@bench.example",
            "name": f"Bench {user_id}",
            "emailVerified": True,
            "image": None,
            "createdAt": "2025-01-01T00:00:00.000Z",
            "updatedAt": "2025-01-01T00:00:00.000Z",
            **extra,
        }
        if algorithm == "HS256":
            return str(jwt.encode(claims, self.secret, algorithm="HS256"))
        return self.key.sign(claims)
