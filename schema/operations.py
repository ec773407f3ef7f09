"""Query and Mutation: thin adapters from GraphQL arguments to owner-scoped resolvers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import strawberry
from strawberry.types import Info

from auth.permissions import IsOwner
from resolvers import tasks as store
from resolvers.pagination import DEFAULT_PAGE
from schema.context import Context
from schema.inputs import CreateTaskInput, TaskFilter, UpdateTaskInput
from schema.types import Task, TaskConnection, TaskOrder, Viewer

ContextInfo = Info[Context, None]
ExpectedVersion = Annotated[
    int | None,
    strawberry.argument(
        description="The version you last saw; if the task is at another, nothing changes "
        "(CONFLICT)."
    ),
]


T = TypeVar("T")


def _viewer_id(info: ContextInfo) -> str:
    return info.context.viewer.user_id


async def _write(info: ContextInfo, write: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Runs one of the store's writes for the viewer, in the request's session, publishing
    through the request's event hub."""
    context = info.context
    async with context.writing() as db:
        return await write(db, context.events, _viewer_id(info), *args)


@strawberry.type
class Query:
    @strawberry.field(permission_classes=[IsOwner], description="Who the token says you are.")
    def me(self, info: ContextInfo) -> Viewer:
        user = info.context.viewer
        return Viewer(id=strawberry.ID(user.user_id), email=user.email, name=user.name)

    @strawberry.field(permission_classes=[IsOwner], description="Your tasks, a page at a time.")
    async def tasks(
        self,
        info: ContextInfo,
        user_id: strawberry.ID,
        filter: TaskFilter | None = None,  # the contract's argument name
        order_by: TaskOrder | None = TaskOrder.CREATED_AT_DESC,
        first: int | None = DEFAULT_PAGE,
        after: str | None = None,
    ) -> TaskConnection:
        async with info.context.reading() as db:
            page = await store.list_tasks(
                db,
                _viewer_id(info),
                completed=filter.completed if filter else None,
                search=filter.search if filter else None,
                order=(order_by or TaskOrder.CREATED_AT_DESC).order(),
                first=DEFAULT_PAGE if first is None else first,
                after=after,
            )
        return TaskConnection.from_page(page)

    @strawberry.field(
        permission_classes=[IsOwner],
        description="One of your tasks; null with a NOT_FOUND error when absent or not yours.",
    )
    async def task(
        self, info: ContextInfo, user_id: strawberry.ID, id: strawberry.ID
    ) -> Task | None:
        async with info.context.reading() as db:
            row = await store.get_task(db, _viewer_id(info), store.parse_task_id(id))
        return Task.from_row(row)


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=[IsOwner])
    async def create_task(
        self,
        info: ContextInfo,
        user_id: strawberry.ID,
        input: CreateTaskInput,
    ) -> Task:
        return Task.from_row(await _write(info, store.create_task, input.title, input.description))

    @strawberry.mutation(permission_classes=[IsOwner], description="Partial update (PATCH).")
    async def update_task(
        self,
        info: ContextInfo,
        user_id: strawberry.ID,
        id: strawberry.ID,
        input: UpdateTaskInput,
        expected_version: ExpectedVersion = None,
    ) -> Task:
        task_id = store.parse_task_id(id)
        return Task.from_row(
            await _write(info, store.update_task, task_id, input.changes(), expected_version)
        )

    @strawberry.mutation(permission_classes=[IsOwner])
    async def delete_task(
        self,
        info: ContextInfo,
        user_id: strawberry.ID,
        id: strawberry.ID,
        expected_version: ExpectedVersion = None,
    ) -> strawberry.ID:
        task_id = store.parse_task_id(id)
        deleted = await _write(info, store.delete_task, task_id, expected_version)
        return strawberry.ID(str(deleted))

    @strawberry.mutation(permission_classes=[IsOwner])
    async def toggle_task_complete(
        self,
        info: ContextInfo,
        user_id: strawberry.ID,
        id: strawberry.ID,
        expected_version: ExpectedVersion = None,
    ) -> Task:
        task_id = store.parse_task_id(id)
        return Task.from_row(await _write(info, store.toggle_task, task_id, expected_version))
