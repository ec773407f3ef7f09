"""The verified identity a request carries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class AuthenticatedUser:
    user_id: str
    email: str | None = None
    name: str | None = None
    expires_at: int | None = None
    claims: Mapping[str, Any] = field(default_factory=dict)
