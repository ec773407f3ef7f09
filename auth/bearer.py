"""The Authorization header to a bearer token, with SPEC §3's exact messages."""

from __future__ import annotations

from auth.errors import AuthError

MISSING_HEADER = "Authorization header missing. Include: Authorization: Bearer <token>"
BAD_HEADER = "Invalid authorization header format. Expected: Bearer <token>"
# Scheme names echoed back are cut short: the header is attacker-controlled.
_MAX_SCHEME_ECHO = 20


def missing_header_error() -> AuthError:
    return AuthError("missing_header", MISSING_HEADER)


def bearer_token(header: str | None) -> str | None:
    """None when there is no header; the token when it is `Bearer <token>`; else AuthError."""
    if header is None:
        return None
    parts = header.strip().split()
    if len(parts) != 2:
        raise AuthError("bad_header", BAD_HEADER)
    scheme, token = parts
    if scheme.lower() != "bearer":
        shown = scheme[:_MAX_SCHEME_ECHO] if scheme.isascii() and scheme.isalnum() else "?"
        raise AuthError("bad_scheme", f"Invalid authentication scheme: {shown}. Expected: Bearer")
    return token
