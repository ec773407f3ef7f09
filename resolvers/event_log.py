"""Appending to and reading from the durable event log (db.event_log), and its cursors.

A cursor names a user's event number. It is opaque to clients and only means something within
that user's stream, which is all a subscription ever reads (`WHERE user_id = :owner`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    BindParameter,
    Integer,
    String,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from db.models import EventCounterRow, TaskEventRow, TaskState, UTCDateTime, utcnow
from db.session import read_connection
from resolvers.errors import BadUserInput, CursorExpired
from resolvers.pagination import opaque, unwrap_opaque

_PREFIX = "e1:"
_STATE_FIELDS = tuple(field for field in TaskState._fields if field not in ("id", "user_id"))
_DATES = ("created_at", "updated_at")
Source = AsyncSession | AsyncConnection | AsyncEngine


def encode_cursor(seq: int) -> str:
    return opaque(f"{_PREFIX}{seq}")


def decode_cursor(cursor: str) -> int:
    """The event number a cursor names; BAD_USER_INPUT for anything we did not hand out."""
    try:
        text = unwrap_opaque(cursor)
    except ValueError:  # binascii.Error and UnicodeDecodeError included
        text = ""
    number = text.removeprefix(_PREFIX)
    if not text.startswith(_PREFIX) or not number.isdigit() or len(number) > 18:
        raise BadUserInput("after", "is not a cursor of taskEvents")
    return int(number)


@dataclass(frozen=True, slots=True)
class Position:
    last: int  # the user's latest event number (0: none yet)
    pruned_through: int  # events up to this number were removed by retention


@dataclass(frozen=True, slots=True)
class Logged:
    seq: int
    kind: str
    task_id: int
    task: TaskState | None


async def append(
    session: AsyncSession, user_id: str, kind: str, task_id: int, task: TaskState | None
) -> int:
    """Number a change and store it, in the write's transaction; returns its number.

    The counter row stays locked until the transaction ends, so the user's next writer waits
    for this one to commit (or roll back, giving the number back) before taking its own."""
    connection = await session.connection()
    statements = _append_statements(connection.dialect.name)
    params: dict[str, Any] = {
        "user_id": user_id,
        "kind": kind,
        "task_id": task_id,
        "task": _task_json(task),
        "created_at": utcnow(),
    }
    if len(statements) == 1:  # PostgreSQL: both in one round trip
        return int((await connection.execute(statements[0], params)).scalar_one())
    numbered, logged = statements
    seq = int((await connection.execute(numbered, params)).scalar_one())
    await connection.execute(logged, {**params, "seq": seq})
    return seq


@lru_cache(maxsize=4)
def _append_statements(dialect: str) -> tuple[Any, ...]:
    """Built once per dialect (building a statement costs as much CPU as running it): on
    PostgreSQL the counter's upsert is a CTE of the event's INSERT; SQLite, which allows no
    writes in a CTE, gets the two apart."""
    upsert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(EventCounterRow)
    numbered = (
        upsert.values(user_id=bindparam("user_id", type_=String()), last_seq=1, pruned_through=0)
        .on_conflict_do_update(
            index_elements=[EventCounterRow.user_id],
            set_={"last_seq": EventCounterRow.last_seq + 1},
        )
        .returning(EventCounterRow.last_seq)
    )
    fields: dict[str, BindParameter[Any]] = {
        "user_id": bindparam("user_id", type_=String()),
        "kind": bindparam("kind", type_=String()),
        "task_id": bindparam("task_id", type_=Integer()),
        "task": bindparam("task", type_=JSON()),
        "created_at": bindparam("created_at", type_=UTCDateTime()),
    }
    if dialect == "postgresql":
        counter = numbered.cte("numbered")
        row = select(fields["user_id"], counter.c.last_seq, *list(fields.values())[1:])
        columns = ["user_id", "seq", *list(fields)[1:]]
        logged = (
            insert(TaskEventRow)
            .from_select(columns, row)
            .add_cte(counter, nest_here=True)
            .returning(TaskEventRow.seq)
        )
        return (logged,)
    return numbered, insert(TaskEventRow).values(seq=bindparam("seq", type_=BigInteger()), **fields)


async def position(source: Source, user_id: str) -> Position:
    async with read_connection(source) as connection:
        row = (await connection.execute(_POSITION, {"owner": user_id})).first()
    return Position(0, 0) if row is None else Position(int(row[0]), int(row[1]))


async def start_after(source: Source, user_id: str, cursor: str | None) -> int:
    """Where a subscription starts: after `cursor`, or (none given) after the latest event.

    CURSOR_EXPIRED when retention removed events after the cursor; BAD_USER_INPUT for a cursor
    beyond the user's latest event (not one of theirs)."""
    where = await position(source, user_id)
    if cursor is None:
        return where.last
    seq = decode_cursor(cursor)
    if seq < where.pruned_through:
        raise CursorExpired()
    if seq > where.last:
        raise BadUserInput("after", "is not a cursor of your taskEvents")
    return seq


_PAGE = 200  # events read at a time, when replaying, catching up or polling
# Built once (building a statement costs as much CPU as running it): owner-scoped, by number.
_AFTER = (
    select(TaskEventRow.seq, TaskEventRow.kind, TaskEventRow.task_id, TaskEventRow.task)
    .where(
        TaskEventRow.user_id == bindparam("owner"),
        TaskEventRow.seq > bindparam("after", type_=BigInteger()),
    )
    .order_by(TaskEventRow.seq)
    .limit(_PAGE)
)
_POSITION = select(EventCounterRow.last_seq, EventCounterRow.pruned_through).where(
    EventCounterRow.user_id == bindparam("owner")
)


async def logged_after(
    source: Source, user_id: str, after: int, until: int | None = None
) -> AsyncIterator[Logged]:
    """The user's events after number `after` (through `until`, or to the end), oldest first,
    read a page at a time; no connection is held while the caller handles an event."""
    while until is None or after < until:
        async with read_connection(source) as connection:
            rows = (await connection.execute(_AFTER, {"owner": user_id, "after": after})).all()
        for number, kind, task_id, task in rows:
            if until is not None and number > until:
                return
            after = int(number)
            yield Logged(after, str(kind), int(task_id), _task(task_id, user_id, task))
        if len(rows) < _PAGE:
            return


async def prune(engine: AsyncEngine, older_than: datetime, batch: int = 5000) -> int:
    """Remove up to `batch` events committed before `older_than`, remembering per user the
    last number removed (so an older cursor is CURSOR_EXPIRED, not silently short)."""
    async with engine.begin() as connection:
        oldest = (
            select(TaskEventRow.user_id, TaskEventRow.seq)
            .where(TaskEventRow.created_at < older_than)
            .order_by(TaskEventRow.created_at)
            .limit(batch)
        )
        doomed = (await connection.execute(oldest)).all()
        if not doomed:
            return 0
        through: dict[str, int] = {}
        for user_id, seq in doomed:
            through[user_id] = max(through.get(user_id, 0), int(seq))
        for user_id, seq in through.items():
            await connection.execute(
                delete(TaskEventRow).where(TaskEventRow.user_id == user_id, TaskEventRow.seq <= seq)
            )
            # Numbers are taken in commit order and stamped as taken, so the oldest events
            # are the lowest numbers: what is removed is always a prefix of the stream.
            await connection.execute(
                update(EventCounterRow)
                .where(EventCounterRow.user_id == user_id, EventCounterRow.pruned_through < seq)
                .values(pruned_through=seq)
            )
    return len(doomed)


async def prune_expired(engine: AsyncEngine, retention_seconds: float) -> int:
    """Remove every event older than the retention, a batch at a time (Periodic's job)."""
    cutoff = utcnow() - timedelta(seconds=retention_seconds)
    removed = 0
    while (batch := await prune(engine, cutoff)) > 0:
        removed += batch
    return removed


def _task_json(task: TaskState | None) -> dict[str, Any] | None:
    if task is None:
        return None
    values = task._asdict()
    return {
        name: values[name].isoformat() if name in _DATES else values[name] for name in _STATE_FIELDS
    }


def _task(task_id: int, user_id: str, body: dict[str, Any] | None) -> TaskState | None:
    if body is None:
        return None
    values: dict[str, Any] = {
        name: datetime.fromisoformat(body[name]) if name in _DATES else body[name]
        for name in _STATE_FIELDS
    }
    return TaskState(id=task_id, user_id=user_id, **values)
