"""A stand-in for an issuer's JWKS endpoint on loopback: it answers what it is told, or nothing."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from tests.support.network import free_port
from tests.support.tokens import LocalKey

JWKS_PATH = "/api/auth/jwks"  # where taskql looks under BETTER_AUTH_URL, as Better Auth serves it


def closed_jwks_url() -> str:
    """A loopback JWKS URL nobody listens on (the port was free a moment ago)."""
    return f"http://127.0.0.1:{free_port()}{JWKS_PATH}"


class JwksServer:
    """Answers every GET with `status` and `body` (an empty key set at first); counts requests.

    `base_url` is what BETTER_AUTH_URL would be, `url` the JWKS URL under it.
    """

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
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        return self.base_url + JWKS_PATH

    def serve_keys(self, *keys: LocalKey) -> None:
        self.serve(json.dumps({"keys": [key.public_jwk for key in keys]}).encode())

    def serve(self, body: bytes, status: int = 200) -> None:
        self.body, self.status = body, status

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: from now on connections to `url` are refused. Idempotent."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
