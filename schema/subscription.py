"""Subscription.taskEvents: your own tasks' committed changes, resumable after a cursor."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.types import Info

from auth.permissions import IsOwner
from db.models import TaskState
from resolvers import event_log
from resolvers import tasks as store
from resolvers.errors import NotFound
from resolvers.events import ChangeKind, Feed, SlowConsumer, TaskChange
from schema.context import Context
from schema.types import Task, TaskEvent, TaskEventType

ContextInfo = Info[Context, None]


@strawberry.type
class Subscription:
    @strawberry.subscription(
        permission_classes=[IsOwner],
        description=(
            "Your tasks' changes, each sent once it is committed, in commit order. With "
            "`after` (an event's cursor) the events after it come first, then live ones."
        ),
    )
    async def task_events(
        self, info: ContextInfo, user_id: strawberry.ID, after: str | None = None
    ) -> AsyncGenerator[TaskEvent, None]:
        owner = info.context.viewer.user_id
        bus = info.context.events.bus
        # CURSOR_EXPIRED / BAD_USER_INPUT from here is an `error` message, before any event.
        start = await event_log.start_after(info.context.database.engine, owner, after)
        # Listening from now; the stream first reads the log after `start`, which covers what
        # was committed in between (what then arrives twice is skipped by its number).
        feed = bus.open(owner)
        return _Closing(_stream(info, owner, feed, start), lambda: bus.close(feed))


class _Closing(AsyncGenerator[TaskEvent, None]):
    """The stream, with its feed closed whenever the stream is: also when it ends before its
    first event (a socket gone at once), when a generator's own `finally` would not run."""

    def __init__(self, stream: AsyncGenerator[TaskEvent, None], close: Callable[[], None]) -> None:
        self._stream, self._close = stream, close

    async def __anext__(self) -> TaskEvent:
        return await anext(self._stream)

    async def asend(self, value: None) -> TaskEvent:
        return await self._stream.asend(value)

    async def athrow(self, *args: Any) -> TaskEvent:
        return await self._stream.athrow(*args)

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._close()


async def _stream(
    info: ContextInfo, owner: str, feed: Feed, last: int
) -> AsyncGenerator[TaskEvent, None]:
    """The log after `last`, then the live feed: a gap in the numbers, or an overflow of the
    feed, is read from the log, and what the log already sent is skipped."""
    engine = info.context.database.engine
    try:
        async for logged in _logged(engine, owner, last, None):
            last = logged.seq or last
            yield await _event(info, owner, logged)
        while True:
            change: TaskChange | None
            try:
                change = await anext(feed)
            except SlowConsumer:
                feed.resume()  # live events queue again from here; the log covers the rest
                change = None
            if change is not None and change.user_id != owner:
                continue  # the bus routes by owner; this keeps it so
            if change is not None and change.seq is None:
                yield await _event(info, owner, change)  # from a replica without the log
                continue
            if change is not None and change.seq is not None and change.seq <= last:
                continue  # sent already, from the log
            until = None if change is None or change.seq is None else change.seq - 1
            if until is None or until > last:
                async for logged in _logged(engine, owner, last, until):
                    last = logged.seq or last
                    yield await _event(info, owner, logged)
            if change is not None:
                last = change.seq or last
                yield await _event(info, owner, change)
    finally:
        info.context.events.bus.close(feed)  # also _Closing's, for streams never started


async def _logged(
    engine: AsyncEngine, owner: str, after: int, until: int | None
) -> AsyncGenerator[TaskChange, None]:
    """The owner's logged changes after number `after` (through `until`, or all), in order."""
    async for logged in event_log.logged_after(engine, owner, after, until):
        yield TaskChange.logged(owner, logged)


async def _event(info: ContextInfo, owner: str, change: TaskChange) -> TaskEvent:
    state = change.task
    if state is None and change.kind is not ChangeKind.DELETED:
        state = await _load(info, owner, change.task_id)
    return TaskEvent(
        cursor=change.cursor or "",
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
