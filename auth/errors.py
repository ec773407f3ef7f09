"""The one error authentication raises: a reason for programs, a message for people."""

from __future__ import annotations

from contract.errors import Reason

__all__ = ["AuthError", "AuthUnavailable", "Reason"]


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


class AuthUnavailable(Exception):
    """Whether the credentials are still good could not be found out in time (HTTP 503):
    refusing them would sign people out, accepting them would honour an ended session."""
