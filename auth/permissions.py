"""IsOwner: a field runs only for a signed-in user whose `sub` equals every userId argument."""

from __future__ import annotations

from typing import Any

from strawberry.exceptions import StrawberryGraphQLError
from strawberry.permission import BasePermission
from strawberry.types import Info

from auth.user import AuthenticatedUser
from contract.errors import Code, message_of


def unauthenticated_error() -> StrawberryGraphQLError:
    return StrawberryGraphQLError(
        message_of(Code.UNAUTHENTICATED),
        extensions={"code": Code.UNAUTHENTICATED.value, "reason": "missing_header"},
    )


class IsOwner(BasePermission):
    message = message_of(Code.FORBIDDEN)
    error_extensions = {"code": Code.FORBIDDEN.value}

    def has_permission(self, source: Any, info: Info[Any, Any], **kwargs: Any) -> bool:
        user: AuthenticatedUser | None = getattr(info.context, "user", None)
        if user is None:
            raise unauthenticated_error()
        return bool(kwargs.get("user_id", user.user_id) == user.user_id)
