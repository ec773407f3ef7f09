"""The typed errors resolvers raise; each carries its SPEC §3 code in `extensions`."""

from __future__ import annotations

from typing import Any, ClassVar

from graphql import GraphQLError

UNAVAILABLE_MESSAGE = "Service temporarily unavailable. Please retry."


class TaskqlError(GraphQLError):
    code: ClassVar[str]

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": self.code, **extensions})


class NotFound(TaskqlError):
    code = "NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("Task not found.")


class BadUserInput(TaskqlError):
    code = "BAD_USER_INPUT"

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}", field=field)


class ServiceUnavailable(TaskqlError):
    code = "SERVICE_UNAVAILABLE"

    def __init__(self) -> None:
        super().__init__(UNAVAILABLE_MESSAGE)
