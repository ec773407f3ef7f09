"""IsOwner: a field runs only for a signed-in user whose `sub` equals every userId argument."""

from __future__ import annotations

from typing import Any

from strawberry.exceptions import StrawberryGraphQLError
from strawberry.permission import BasePermission
from strawberry.types import Info

from auth.bearer import MISSING_HEADER
from auth.user import AuthenticatedUser

FORBIDDEN_MESSAGE = "Access denied. You can only access your own resources."


def unauthenticated_error() -> StrawberryGraphQLError:
    return StrawberryGraphQLError(
        MISSING_HEADER, extensions={"code": "UNAUTHENTICATED", "reason": "missing_header"}
    )


class IsOwner(BasePermission):
    message = FORBIDDEN_MESSAGE
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Info[Any, Any], **kwargs: Any) -> bool:
        user: AuthenticatedUser | None = getattr(info.context, "user", None)
        if user is None:
            raise unauthenticated_error()
        return bool(kwargs.get("user_id", user.user_id) == user.user_id)
