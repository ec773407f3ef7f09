"""Subscription.taskEvents: your own tasks' committed changes, and the socket's close codes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

import strawberry
from starlette.websockets import WebSocket
from strawberry.types import Info

from auth.permissions import IsOwner
from contract.errors import CloseCode
from db.models import TaskState
from resolvers import tasks as store
from resolvers.errors import NotFound
from resolvers.events import ChangeKind, SlowConsumer, TaskChange
from schema.context import Context
from schema.types import Task, TaskEvent, TaskEventType

ContextInfo = Info[Context, None]


@strawberry.type
class Subscription:
    @strawberry.subscription(
        permission_classes=[IsOwner],
        description="Your tasks' changes, each sent once it is committed.",
    )
    async def task_events(
        self, info: ContextInfo, user_id: strawberry.ID
    ) -> AsyncGenerator[TaskEvent, None]:
        owner = info.context.viewer.user_id
        with info.context.events.bus.subscribe(owner) as feed:
            try:
                async for change in feed:
                    if change.user_id == owner:  # the bus routes by owner; this keeps it so
                        yield await _event(info, owner, change)
            except SlowConsumer:
                await _hang_up(info, CloseCode.SLOW_CONSUMER, "Slow consumer")


async def _event(info: ContextInfo, owner: str, change: TaskChange) -> TaskEvent:
    state = change.task
    if state is None and change.kind is not ChangeKind.DELETED:
        state = await _load(info, owner, change.task_id)
    return TaskEvent(
        type=TaskEventType(change.kind.value),
        task_id=strawberry.ID(str(change.task_id)),
        task=Task.from_row(state) if state is not None and state.user_id == owner else None,
    )


async def _load(info: ContextInfo, owner: str, task_id: int) -> TaskState | None:
    """The row now, owner-scoped: for changes that travelled without it. Gone since: None."""
    # Through the engine: the socket's context lives for hours, a pooled connection must not.
    try:
        return await store.get_task(info.context.database.engine, owner, task_id)
    except NotFound:
        return None


async def _hang_up(info: ContextInfo, code: CloseCode, reason: str) -> None:
    socket = info.context.request
    if isinstance(socket, WebSocket):
        with contextlib.suppress(RuntimeError):  # already closed by the other side
            await socket.close(code=code, reason=reason)
