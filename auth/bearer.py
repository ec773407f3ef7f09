"""The Authorization header to a bearer token, with SPEC §3's exact messages."""

from __future__ import annotations

from collections.abc import Sequence

from auth.errors import AuthError
from contract.errors import Code, message_of

MISSING_HEADER = message_of(Code.UNAUTHENTICATED)
BAD_HEADER = "Invalid authorization header format. Expected: Bearer <token>"
# Only a short ASCII word is echoed back as the scheme: a long one may be a credential sent in the
# wrong order (`<token> Bearer`), and even a prefix of it must not reach a response or a log.
_MAX_SCHEME_ECHO = 20


def authorization_token(headers: Sequence[str]) -> str | None:
    """The bearer token of a request's Authorization headers: None without one; two are
    refused, not picked from (a proxy on the way may have read the other one)."""
    if len(headers) > 1:
        raise AuthError("bad_header", BAD_HEADER)
    return bearer_token(headers[0]) if headers else None


def bearer_token(header: str | None) -> str | None:
    """None when there is no header; the token when it is `Bearer <token>`; else AuthError."""
    if header is None:
        return None
    parts = header.strip().split()
    if len(parts) != 2:
        raise AuthError("bad_header", BAD_HEADER)
    scheme, token = parts
    if scheme.lower() != "bearer":
        echo = scheme.isascii() and scheme.isalnum() and len(scheme) <= _MAX_SCHEME_ECHO
        shown = scheme if echo else "?"
        raise AuthError("bad_scheme", f"Invalid authentication scheme: {shown}. Expected: Bearer")
    return token
