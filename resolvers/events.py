"""Task events after commit: a per-process fan-out with one bounded queue per subscriber."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import TaskState
from resolvers import event_log


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
    seq: int | None = None  # its number in the owner's event log, once appended

    @property
    def cursor(self) -> str | None:
        return event_log.encode_cursor(self.seq) if self.seq is not None else None

    @classmethod
    def written(cls, kind: ChangeKind, state: TaskState) -> TaskChange:
        return cls(kind, state.id, state.user_id, state)

    @classmethod
    def deleted(cls, task_id: int, user_id: str) -> TaskChange:
        return cls(ChangeKind.DELETED, task_id, user_id)

    @classmethod
    def logged(cls, user_id: str, logged: event_log.Logged) -> TaskChange:
        """A change as the event log keeps it."""
        return cls(ChangeKind(logged.kind), logged.task_id, user_id, logged.task, logged.seq)


class SlowConsumer(Exception):
    """The subscriber fell a whole queue behind; it is dropped rather than buffered forever."""


class Feed:
    """One subscription's queue of changes, bounded. On overflow it drops its backlog and
    raises SlowConsumer once: the subscriber reads what it missed from the event log and
    `resume`s it, so a slow subscriber catches up instead of losing events."""

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

    def resume(self) -> None:
        """After an overflow, before the subscriber catches up from the event log: accept
        again (what arrives meanwhile is queued; the log read skips none of it)."""
        while not self._queue.empty():
            self._queue.get_nowait()
        self.overflowed = False

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
        feed = self.open(user_id)
        try:
            yield feed
        finally:
            self.close(feed)

    def open(self, user_id: str) -> Feed:
        """A feed of the user's changes from now on; `close` it when done."""
        feed = Feed(user_id, self.queue_size)
        self._feeds.setdefault(user_id, set()).add(feed)
        return feed

    def close(self, feed: Feed) -> None:
        feeds = self._feeds.get(feed.user_id)
        if feeds is not None:
            feeds.discard(feed)
            if not feeds:
                del self._feeds[feed.user_id]

    def deliver(self, change: TaskChange) -> None:
        for feed in tuple(self._feeds.get(change.user_id, ())):
            feed.offer(change)

    def users(self) -> list[str]:
        """The users with a subscriber in this process."""
        return list(self._feeds)

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


# Where a session holding its commits keeps the changes to publish once it commits.
_HELD = "taskql_held_changes"
_Held = list[tuple[EventHub, TaskChange]]


async def append(session: AsyncSession, change: TaskChange) -> TaskChange:
    """The change, numbered and stored in the event log, in the write's transaction."""
    task = change.task
    seq = await event_log.append(session, change.user_id, change.kind.value, change.task_id, task)
    return replace(change, seq=seq)


async def commit(session: AsyncSession, hub: EventHub | None, change: TaskChange) -> None:
    """Commit a write and publish its change through `hub`: after the commit, never for a
    rollback. Without a hub (a script, a test) the write is committed and nothing is told.
    A session that `hold`s its commits keeps the write in its transaction instead.
    Either way the change is in the event log when, and only when, the write commits."""
    change = await append(session, change)
    if hub is not None:
        await hub.stage(session, change)
    held: _Held | None = session.info.get(_HELD)
    if held is not None:
        if hub is not None:
            held.append((hub, change))
        return
    await session.commit()
    if hub is not None:
        hub.committed(change)


async def unwritten(session: AsyncSession) -> None:
    """A write found nothing to change: end its transaction, unless the session holds earlier
    writes to commit later (their statement changed nothing, so there is nothing to undo)."""
    if _HELD not in session.info:
        await session.rollback()


def hold(session: AsyncSession) -> None:
    """From now on `commit` only stages: the session's writes commit in `commit_held`, so a
    request with an Idempotency-Key commits them and its stored response together (SPEC §8)."""
    session.info.setdefault(_HELD, [])


def holds_writes(session: AsyncSession) -> bool:
    """Whether writes are waiting for `commit_held`."""
    return bool(session.info.get(_HELD))


async def commit_held(session: AsyncSession) -> None:
    """Commit what the session holds, then publish each change, in order."""
    held: _Held = session.info.pop(_HELD, [])
    await session.commit()
    for hub, change in held:
        hub.committed(change)


async def discard_held(session: AsyncSession) -> None:
    """Roll back what the session holds: none of it happened, and nobody is told."""
    session.info.pop(_HELD, None)
    await session.rollback()
