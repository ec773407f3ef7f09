"""CORS for CORS_ORIGINS: Starlette's policy, with each response's headers worked out at startup.

Starlette's CORSMiddleware decides (which origins, what a preflight answers); what it adds to
each response depends only on the request's Origin, so the edge sends a list built once per
origin instead of rewriting every response head through MutableHeaders.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

RawHeaders = list[tuple[bytes, bytes]]
VARY = b"vary"
_VARY_ORIGIN = (VARY, b"Origin")


async def _no_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("only the policy of CORSMiddleware is used, never the middleware")


class Cors:
    """The response headers for a request's Origin, and the answer to a preflight."""

    def __init__(
        self,
        *,
        allow_origins: list[str],
        allow_credentials: bool,
        allow_methods: list[str],
        allow_headers: list[str],
        expose_headers: list[str],
        max_age: int,
    ) -> None:
        self.policy = CORSMiddleware(
            _no_app,
            allow_origins=allow_origins,
            allow_credentials=allow_credentials,
            allow_methods=allow_methods,
            allow_headers=allow_headers,
            expose_headers=expose_headers,
            max_age=max_age,
        )
        simple = [_raw(name, value) for name, value in self.policy.simple_headers.items()]
        self.without_origin: RawHeaders = [_VARY_ORIGIN]
        self.refused: RawHeaders = [*simple, _VARY_ORIGIN]
        self._simple = simple
        # Origins that may not be listed (a wildcard) are answered per request instead.
        self._allowed: dict[bytes, RawHeaders] = {
            origin.encode("latin-1"): self._for_origin(origin)
            for origin in allow_origins
            if origin != "*"
        }
        self.names = frozenset([VARY, *(name for name, _ in self.refused)]) | {
            b"access-control-allow-origin"
        }

    def headers_for(self, origin: bytes | None) -> RawHeaders:
        """What Starlette's CORSMiddleware adds to a response to a request from `origin`."""
        if origin is None:
            return self.without_origin
        known = self._allowed.get(origin)
        if known is not None:
            return known
        text = origin.decode("latin-1")
        if self.policy.is_allowed_origin(text):
            return self._for_origin(text)
        return self.refused

    def _for_origin(self, origin: str) -> RawHeaders:
        policy = self.policy
        if policy.allow_all_origins and not policy.allow_credentials:
            return self.refused  # `*`, already among the simple headers
        merged = MutableHeaders(raw=list(self._simple))
        policy.allow_explicit_origin(merged, origin)
        return merged.raw

    def is_preflight(
        self, scope: Scope, origin: bytes | None, headers: Mapping[bytes, bytes]
    ) -> bool:
        return (
            origin is not None
            and scope["method"] == "OPTIONS"
            and b"access-control-request-method" in headers
        )

    def preflight(self, scope: Scope) -> Response:
        return self.policy.preflight_response(request_headers=Headers(scope=scope))


def merge(head: RawHeaders, added: RawHeaders) -> RawHeaders:
    """`added` set onto `head` as MutableHeaders would: a name present already is replaced (its
    first place kept, the rest dropped), and Vary grows by Origin. Only for a head that already
    has one of the names; every other response gets `added` appended as it is."""
    merged = MutableHeaders(raw=list(head))
    for name, value in added:
        key = name.decode("latin-1")
        if name == VARY:
            merged[key] = ", ".join([*merged.getlist(key), value.decode("latin-1")])
        else:
            merged[key] = value.decode("latin-1")
    return merged.raw


def _raw(name: str, value: str) -> tuple[bytes, bytes]:
    return name.lower().encode("latin-1"), value.encode("latin-1")
