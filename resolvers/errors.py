"""The typed errors resolvers raise; each carries its SPEC §3 code in `extensions`."""

from __future__ import annotations

from typing import Any, ClassVar

from graphql import GraphQLError

from contract.errors import Code, message_of


class TaskqlError(GraphQLError):
    code: ClassVar[Code]

    def __init__(self, message: str | None = None, **extensions: Any) -> None:
        text = message if message is not None else message_of(self.code)
        super().__init__(text, extensions={"code": self.code.value, **extensions})


class NotFound(TaskqlError):
    code = Code.NOT_FOUND

    def __init__(self) -> None:
        super().__init__()


class Conflict(TaskqlError):
    """`expectedVersion` is not the task's version: nothing was changed."""

    code = Code.CONFLICT

    def __init__(self, current_version: int) -> None:
        super().__init__(currentVersion=current_version)


class BadUserInput(TaskqlError):
    code = Code.BAD_USER_INPUT

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}", field=field)


class ServiceUnavailable(TaskqlError):
    code = Code.SERVICE_UNAVAILABLE

    def __init__(self) -> None:
        super().__init__()


class CursorExpired(TaskqlError):
    """`taskEvents(after:)` names a cursor older than the event log keeps."""

    code = Code.CURSOR_EXPIRED

    def __init__(self) -> None:
        super().__init__()
