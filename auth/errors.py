"""The one error authentication raises: a reason for programs, a message for people."""

from __future__ import annotations

from typing import Literal

Reason = Literal[
    "missing_header",
    "bad_header",
    "bad_scheme",
    "expired",
    "bad_signature",
    "bad_claims",
    "unknown_key",
    "malformed",
]


class AuthError(Exception):
    """A request's credentials were missing or not acceptable (HTTP 401)."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.message = message

    @classmethod
    def invalid(cls, reason: Reason, detail: str) -> AuthError:
        """SPEC §3: "Invalid token: <short reason>"; `detail` must never contain the token."""
        return cls(reason, f"Invalid token: {detail}")
