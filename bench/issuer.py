"""The benchmark's stand-in for Better Auth: an Ed25519 key on a loopback JWKS, and HS256 tokens."""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from jose import jwt

from auth.keys import EdDSAKey

ALGORITHMS = ("HS256", "EdDSA")


class Issuer:
    """Signs tokens shaped like Better Auth's (header {alg, kid}, the user row in the claims)."""

    def __init__(self) -> None:
        self.secret = secrets.token_urlsafe(48)
        self.kid = uuid.uuid4().hex
        self._private = EdDSAKey(ed25519.Ed25519PrivateKey.generate(), "EdDSA")
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The Better Auth base URL: issuer, audience, and <url>/api/auth/jwks."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def public_jwk(self) -> dict[str, str]:
        public = self._private.public_key().to_dict()
        public.pop("alg", None)  # Better Auth's JWKS entries carry no alg
        return {**public, "kid": self.kid}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def token(self, algorithm: str, user_id: str, ttl: int) -> str:
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
        }
        if algorithm == "HS256":
            return str(jwt.encode(claims, self.secret, algorithm="HS256"))
        private = self._private.to_dict()
        return str(jwt.encode(claims, private, algorithm="EdDSA", headers={"kid": self.kid}))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                body = json.dumps({"keys": [issuer.public_jwk]}).encode()
                self.send_response(200 if self.path == "/api/auth/jwks" else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        return Handler
