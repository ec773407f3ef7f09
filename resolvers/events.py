"""Task events after commit: a per-process fan-out with one bounded queue per subscriber."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Task

# Every session of a database carries that database's hub (SQLAlchemy's `Session.info`), so the
# write path needs no extra argument and a session without one (a script, a test) publishes nothing.
_HUB_KEY = "taskql.events"


class ChangeKind(enum.Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"


class TaskState(NamedTuple):
    """A task's columns as committed, in the table's order: what an event shows (immune to
    later writes) and what a page of tasks lists.

    A page makes one from each result row by position: reading a Row's attributes by name
    costs about ten times as much, and a page reads 140 of them.
    """

    id: int
    user_id: str
    title: str
    description: str | None
    completed: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Task) -> TaskState:
        return cls(
            row.id,
            row.user_id,
            row.title,
            row.description,
            row.completed,
            row.created_at,
            row.updated_at,
        )


if TaskState._fields != tuple(column.key for column in Task.__table__.c):
    raise RuntimeError("TaskState must list the tasks table's columns in the table's order")


@dataclass(frozen=True, slots=True)
class TaskChange:
    kind: ChangeKind
    task_id: int
    user_id: str
    task: TaskState | None = (
        None  # None for DELETED, or when too large to travel (see taskql.live.postgres)
    )

    @classmethod
    def written(cls, kind: ChangeKind, row: Task) -> TaskChange:
        return cls(kind, row.id, row.user_id, TaskState.of(row))

    @classmethod
    def deleted(cls, task_id: int, user_id: str) -> TaskChange:
        return cls(ChangeKind.DELETED, task_id, user_id)


class SlowConsumer(Exception):
    """The subscriber fell a whole queue behind; it is dropped rather than buffered forever."""


class Feed:
    """One subscription's queue of changes, bounded; overflow ends the feed."""

    def __init__(self, user_id: str, size: int) -> None:
        self.user_id = user_id
        self._queue: asyncio.Queue[TaskChange | None] = asyncio.Queue(maxsize=size)
        self.overflowed = False

    def offer(self, change: TaskChange) -> None:
        if self.overflowed:
            return
        try:
            self._queue.put_nowait(change)
        except asyncio.QueueFull:
            self.overflowed = True
            while not self._queue.empty():  # free the backlog now: it will never be sent
                self._queue.get_nowait()
            self._queue.put_nowait(None)  # wakes a consumer waiting on the emptied queue

    def __aiter__(self) -> Feed:
        return self

    async def __anext__(self) -> TaskChange:
        change = None if self.overflowed else await self._queue.get()
        if change is None:
            raise SlowConsumer
        return change


class EventBus:
    """This process's subscribers, indexed by owner: a change reaches its owner's feeds only."""

    def __init__(self, queue_size: int = 256) -> None:
        self.queue_size = queue_size
        self._feeds: dict[str, set[Feed]] = {}

    @contextmanager
    def subscribe(self, user_id: str) -> Iterator[Feed]:
        feed = Feed(user_id, self.queue_size)
        self._feeds.setdefault(user_id, set()).add(feed)
        try:
            yield feed
        finally:
            feeds = self._feeds.get(user_id)
            if feeds is not None:
                feeds.discard(feed)
                if not feeds:
                    del self._feeds[user_id]

    def deliver(self, change: TaskChange) -> None:
        for feed in tuple(self._feeds.get(change.user_id, ())):
            feed.offer(change)

    def subscribers(self, user_id: str | None = None) -> int:
        if user_id is not None:
            return len(self._feeds.get(user_id, ()))
        return sum(len(feeds) for feeds in self._feeds.values())


class EventHub:
    """How committed changes reach the bus. This one is in-process: the embedded SQLite default."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus

    async def start(self) -> None:
        """Nothing to connect to in-process."""

    async def aclose(self) -> None:
        """Nothing to disconnect in-process."""

    async def stage(self, session: AsyncSession, change: TaskChange) -> None:
        """Runs inside the write's transaction, just before its commit."""

    def committed(self, change: TaskChange) -> None:
        """Runs once the commit has returned; a rolled-back write never gets here."""
        self.bus.deliver(change)


def attach(sessions: async_sessionmaker[AsyncSession], hub: EventHub) -> None:
    sessions.configure(info={_HUB_KEY: hub})


def hub_for(session: AsyncSession) -> EventHub | None:
    hub = session.info.get(_HUB_KEY)
    return hub if isinstance(hub, EventHub) else None


async def commit(session: AsyncSession, change: TaskChange) -> None:
    """Commit a write and publish its change: after the commit, never for a rollback."""
    hub = hub_for(session)
    if hub is not None:
        await hub.stage(session, change)
    await session.commit()
    if hub is not None:
        hub.committed(change)
