"""A local stand-in for an issuer: real Ed25519 keys and a loopback JWKS endpoint we can break."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from jose import jwt

from auth.keys import EdDSAKey
from tests.auth.apps import b64, b64json


class LocalKey:
    """An Ed25519 key pair with a Better Auth-shaped public JWK (32-character kid, no `use`)."""

    def __init__(self, kid: str | None = None) -> None:
        self.kid = kid or uuid.uuid4().hex
        self._private = ed25519.Ed25519PrivateKey.generate()

    @property
    def public_jwk(self) -> dict[str, str]:
        return {**EdDSAKey(self._private.public_key(), "EdDSA").to_dict(), "kid": self.kid}

    @property
    def public_pem(self) -> bytes:
        return self._private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: dict[str, Any], *, kid: str | None = None, **headers: Any) -> str:
        """A token as Better Auth signs it: header {alg, kid}, no typ (plus any `headers`)."""
        private = EdDSAKey(self._private, "EdDSA").to_dict()
        headers = {"kid": kid or self.kid, **headers}
        token = jwt.encode(claims, private, algorithm="EdDSA", headers=headers)
        return str(token)


def claims_for(sub: str = "user-a", ttl: int = 900, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": sub, "iat": now, "exp": now + ttl, **extra}


def hmac_token(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """HS256 by hand: python-jose refuses PEM-looking HMAC secrets, an attacker does not."""
    signing_input = f"{b64json(header)}.{b64json(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def closed_port_url() -> str:
    """A loopback URL nobody listens on (the port was free a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/auth/jwks"


class JwksServer:
    """A loopback HTTP server answering every GET with `status` and `body`; counts requests."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b'{"keys": []}'
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
                server.requests += 1
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/api/auth/jwks"

    def serve_keys(self, *keys: LocalKey) -> None:
        self.serve(json.dumps({"keys": [key.public_jwk for key in keys]}).encode())

    def serve(self, body: bytes, status: int = 200) -> None:
        self.body, self.status = body, status

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: from now on connections to `url` are refused. Idempotent."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
