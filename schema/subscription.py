"""Subscription.taskEvents: your own tasks' committed changes, and the socket's close codes."""

from __future__ import annotations

import contextlib
import enum
from collections.abc import AsyncGenerator

import strawberry
from starlette.websockets import WebSocket
from strawberry.types import Info

from auth.context import Context
from auth.permissions import IsOwner
from resolvers import events
from resolvers import tasks as store
from resolvers.errors import NotFound
from resolvers.events import ChangeKind, SlowConsumer, TaskChange, TaskState
from schema.types import Task, TaskEvent

ContextInfo = Info[Context, None]


class CloseCode(enum.IntEnum):
    """Why the server closed a subscription socket (README "Live updates" has the full table).

    graphql-ws 6.x retries all of these: it gives up only on 4004, 4005, 4400, 4401, 4406, 4409,
    4429, 4500 and on 1xxx codes other than 1000, 1001, 1005, 1006 and 1012-1014. So a client whose
    `connectionParams` fetches a fresh token comes back by itself.
    """

    TOKEN_EXPIRED = 4001
    SLOW_CONSUMER = 4013
    TOO_MANY_CONNECTIONS = 4029
    FORBIDDEN = 4403  # strawberry's code for a rejected connection_init (SPEC §7)
    INIT_TIMEOUT = 4408  # strawberry's connection_init_wait_timeout (SPEC §7)


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
        hub = events.hub_for(info.context.db)
        if hub is None:
            raise RuntimeError("the database has no event hub attached")
        with hub.bus.subscribe(owner) as feed:
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
        type=change.kind,
        task_id=strawberry.ID(str(change.task_id)),
        task=Task.from_row(state) if state is not None and state.user_id == owner else None,
    )


async def _load(info: ContextInfo, owner: str, task_id: int) -> TaskState | None:
    """The row now, owner-scoped: for changes that travelled without it. Gone since: None."""
    # A session per load: the connection's context lives for hours, a pooled connection must not.
    async with info.context.database.session() as session:
        try:
            return TaskState.of(await store.get_task(session, owner, task_id))
        except NotFound:
            return None


async def _hang_up(info: ContextInfo, code: CloseCode, reason: str) -> None:
    socket = info.context.request
    if isinstance(socket, WebSocket):
        with contextlib.suppress(RuntimeError):  # already closed by the other side
            await socket.close(code=code, reason=reason)
