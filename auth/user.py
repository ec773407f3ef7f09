"""The verified identity a request carries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# 9999-12-31T23:59:59Z. The verifier refuses a NumericDate past it, so `expires_at` always fits
# a float and a timer (a float of 10**400 raises OverflowError in the socket's expiry timer).
LATEST_NUMERIC_DATE = 253_402_300_799


@dataclass(frozen=True, slots=True)
class AuthenticatedUser:
    user_id: str
    email: str | None = None
    name: str | None = None
    expires_at: int | None = None  # `exp`, within 0..LATEST_NUMERIC_DATE
    session_id: str | None = None  # Better Auth's session, when the token names it (`sid`)
    claims: Mapping[str, Any] = field(default_factory=dict)
