"""The tables: owner-scoped tasks (indexes led by user_id for keyset pagination) and the stored
responses of Idempotency-Keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TITLE_MAX = 200
DESCRIPTION_MAX = 1000
MAX_TASK_ID = 2**31 - 1  # tasks.id is an INTEGER: int4 on PostgreSQL, so no row lies beyond


class UTCDateTime(TypeDecorator[datetime]):
    """Always hands back aware UTC datetimes; SQLite stores naive UTC, PostgreSQL timestamptz."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(255), nullable=False)
    title: Mapped[str] = mapped_column(String(TITLE_MAX), nullable=False)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    completed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    # 1 on create, +1 on every change: what `expectedVersion` is compared with (SPEC §2). Last,
    # where ALTER TABLE ADD COLUMN put it in databases made before it.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")

    __table_args__ = (
        Index("ix_tasks_user_id_created_at_id", "user_id", "created_at", "id"),
        Index("ix_tasks_user_id_updated_at_id", "user_id", "updated_at", "id"),
        Index("ix_tasks_user_id_title_id", "user_id", "title", "id"),
    )


class TaskState(NamedTuple):
    """A task's columns as committed, in the table's order: what every read and write returns,
    what an event shows (immune to later writes) and what a page of tasks lists.

    Made from each result row by position (`TaskState._make(row)`): reading a Row's attributes
    by name costs about ten times as much, and a page reads 140 of them.
    """

    id: int
    user_id: str
    title: str
    description: str | None
    completed: bool
    created_at: datetime
    updated_at: datetime
    version: int


TASK_COLUMNS = tuple(Task.__table__.c)
if TaskState._fields != tuple(column.key for column in TASK_COLUMNS):
    raise RuntimeError("TaskState must list the tasks table's columns in the table's order")


KEY_MAX = 255  # Idempotency-Key: 1 to 255 printable ASCII characters (SPEC §8)


class IdempotencyKey(Base):
    """One user's Idempotency-Key: claimed while its request runs, then that request's response.

    A claim (`status` NULL) lives until `expires_at`, a bound on how long a request can run, so
    one left by a crashed replica is taken over; a response lives IDEMPOTENCY_TTL_SECONDS.
    `claim` is a random token per claim: only its holder may complete or release it.
    """

    __tablename__ = "idempotency_keys"

    user_id: Mapped[str] = mapped_column(String(255), nullable=False)
    key: Mapped[str] = mapped_column(String(KEY_MAX), nullable=False)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    claim: Mapped[str] = mapped_column(String(32), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    headers: Mapped[str | None] = mapped_column(Text, nullable=True)
    body: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    __table_args__ = (
        PrimaryKeyConstraint("user_id", "key"),
        Index("ix_idempotency_keys_expires_at", "expires_at"),
    )


class TaskEventRow(Base):
    """The durable event log (SPEC §7): every task write appends its event in its transaction.

    Events are numbered per user by the counter row each write updates (EventCounterRow): its
    lock is held until the write commits, so a user's writers take numbers in commit order on
    any number of replicas, and a rolled-back write gives its number back. A user's numbers are
    therefore dense and in commit order: one who saw n and then n + 2 knows n + 1 exists.
    """

    __tablename__ = "task_events"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    task_id: Mapped[int] = mapped_column(Integer, nullable=False)
    # The task as committed (None for DELETED): a replay shows what live delivery showed.
    task: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (Index("ix_task_events_created_at", "created_at"),)


class EventCounterRow(Base):
    """Per user: the last event number given out, and the last one retention removed."""

    __tablename__ = "task_event_counters"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    pruned_through: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
