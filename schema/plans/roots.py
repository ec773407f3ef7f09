"""The root fields a plan runs without Strawberry: schema/operations.py's resolvers, restated on
graphql-core's coerced arguments and calling resolvers/ directly.

Each is keyed by the Strawberry resolver it stands for, so a schema whose field is resolved by
anything else gets no plan (tests/plans/ compares both paths on every operation).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from strawberry.permission import BasePermission

from resolvers import tasks as store
from resolvers.pagination import DEFAULT_PAGE
from schema.context import Context
from schema.operations import Mutation, Query
from schema.types import TaskOrder

T = TypeVar("T")
Arguments = dict[str, Any]
# (context, coerced arguments) -> what the field's selection is completed from.
Resolve = Callable[[Context, Arguments], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class _PermissionInfo:
    """What a permission is handed as `info`: IsOwner reads the context only."""

    context: Context


def check_permissions(
    permissions: Sequence[BasePermission], context: Context, arguments: Arguments
) -> None:
    """Strawberry's PermissionExtension: each permission in turn, the first refusal raises."""
    kwargs = {"user_id": arguments["userId"]} if "userId" in arguments else {}
    info: Any = _PermissionInfo(context)
    for permission in permissions:
        if not permission.has_permission(None, info, **kwargs):
            permission.on_unauthorized()


async def _me(context: Context, arguments: Arguments) -> Any:
    return context.viewer  # Viewer's fields are the user's: id, email, name


async def _tasks(context: Context, arguments: Arguments) -> store.Page:
    task_filter = arguments.get("filter")
    order_by: TaskOrder | None = arguments.get("orderBy")
    first: int | None = arguments.get("first")
    async with context.reading() as db:
        return await store.list_tasks(
            db,
            context.viewer.user_id,
            completed=task_filter.get("completed") if task_filter is not None else None,
            search=task_filter.get("search") if task_filter is not None else None,
            order=(order_by or TaskOrder.CREATED_AT_DESC).order(),
            first=DEFAULT_PAGE if first is None else first,
            after=arguments.get("after"),
        )


async def _task(context: Context, arguments: Arguments) -> Any:
    async with context.reading() as db:
        task_id = store.parse_task_id(arguments["id"])
        return await store.get_task(db, context.viewer.user_id, task_id)


async def _write(context: Context, write: Callable[..., Awaitable[T]], *args: Any) -> T:
    async with context.writing() as db:
        return await write(db, context.events, context.viewer.user_id, *args)


async def _create(context: Context, arguments: Arguments) -> Any:
    given = arguments["input"]
    return await _write(context, store.create_task, given["title"], given.get("description"))


_CHANGEABLE = ("title", "description", "completed")


async def _update(context: Context, arguments: Arguments) -> Any:
    task_id = store.parse_task_id(arguments["id"])
    given = arguments["input"]
    changes = {name: given[name] for name in _CHANGEABLE if name in given}
    expected = arguments.get("expectedVersion")
    return await _write(context, store.update_task, task_id, changes, expected)


async def _delete(context: Context, arguments: Arguments) -> str:
    task_id = store.parse_task_id(arguments["id"])
    deleted = await _write(context, store.delete_task, task_id, arguments.get("expectedVersion"))
    return str(deleted)


async def _toggle(context: Context, arguments: Arguments) -> Any:
    task_id = store.parse_task_id(arguments["id"])
    return await _write(context, store.toggle_task, task_id, arguments.get("expectedVersion"))


# The Strawberry resolver each stands for -> the plan's own.
ROOTS: dict[Callable[..., Any], Resolve] = {
    Query.me: _me,
    Query.tasks: _tasks,
    Query.task: _task,
    Mutation.create_task: _create,
    Mutation.update_task: _update,
    Mutation.delete_task: _delete,
    Mutation.toggle_task_complete: _toggle,
}
