"""Task events after commit: a per-process fan-out with one bounded queue per subscriber."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import TaskState


class ChangeKind(enum.Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"


@dataclass(frozen=True, slots=True)
class TaskChange:
    kind: ChangeKind
    task_id: int
    user_id: str
    task: TaskState | None = (
        None  # None for DELETED, or when too large to travel (see taskql.live.postgres)
    )

    @classmethod
    def written(cls, kind: ChangeKind, state: TaskState) -> TaskChange:
        return cls(kind, state.id, state.user_id, state)

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


async def commit(session: AsyncSession, hub: EventHub | None, change: TaskChange) -> None:
    """Commit a write and publish its change through `hub`: after the commit, never for a
    rollback. Without a hub (a script, a test) the write is committed and nothing is told."""
    if hub is not None:
        await hub.stage(session, change)
    await session.commit()
    if hub is not None:
        hub.committed(change)
