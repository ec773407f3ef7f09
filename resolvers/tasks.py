"""Owner-scoped task reads and writes: every statement is filtered by the caller's user id."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NoReturn

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    not_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db.models import (
    DESCRIPTION_MAX,
    MAX_TASK_ID,
    TASK_COLUMNS,
    TITLE_MAX,
    Task,
    TaskState,
    utcnow,
)
from db.session import read_connection
from resolvers import events
from resolvers.errors import BadUserInput, Conflict, NotFound
from resolvers.events import ChangeKind, EventHub, TaskChange
from resolvers.pagination import Order, after_cursor, check_page_size, encode_cursor, order_by

_MAX_SEARCH = 200
_TOTAL = "taskql_total"
Readable = AsyncSession | AsyncEngine


@dataclass(frozen=True, slots=True)
class Page:
    items: Sequence[TaskState]
    total: int
    has_next_page: bool
    end_cursor: str | None


def parse_task_id(raw: str) -> int:
    """IDs are integers; one that cannot name a row is simply not found."""
    text = raw.strip()
    if not text.isascii() or not text.isdigit():
        raise BadUserInput("id", "must be a task id (a positive integer)")
    task_id = int(text)
    if not 1 <= task_id <= MAX_TASK_ID:
        raise NotFound()
    return task_id


def _no_nul(field: str, text: str) -> str:
    # PostgreSQL text cannot hold U+0000; refuse it the same way on every database.
    if "\x00" in text:
        raise BadUserInput(field, "must not contain the NUL character (U+0000)")
    return text


def clean_title(title: str) -> str:
    title = _no_nul("title", title).strip()
    if not 1 <= len(title) <= TITLE_MAX:
        raise BadUserInput("title", f"must be 1 to {TITLE_MAX} characters after trimming")
    return title


def clean_description(description: str | None) -> str | None:
    if description is None:
        return None
    if len(_no_nul("description", description)) > DESCRIPTION_MAX:
        raise BadUserInput("description", f"must be at most {DESCRIPTION_MAX} characters")
    return description


def _owned(user_id: str, task_id: int) -> ColumnElement[bool]:
    return and_(Task.user_id == user_id, Task.id == task_id)


def _page_statements(
    order: Order, filters: Sequence[ColumnElement[bool]], after: ColumnElement[bool] | None
) -> tuple[Select[Any], Select[Any]]:
    """The page (with the total as an uncorrelated scalar subquery, evaluated once) and the
    total on its own; the owner and the row limit are bound as `owner` and `page_limit`."""
    where = [Task.user_id == bindparam("owner"), *filters]
    total = select(func.count()).select_from(Task).where(*where)
    page = (
        select(*TASK_COLUMNS, total.scalar_subquery().label(_TOTAL))
        .where(*where, *([after] if after is not None else []))
        .order_by(*order_by(order))
        .limit(bindparam("page_limit", type_=Integer()))
    )
    return page, total


@lru_cache(maxsize=len(Order) * 3)
def _plain_page_statements(order: Order, completed: bool | None) -> tuple[Select[Any], Select[Any]]:
    """The common shapes (no search, first page) built once: building a statement costs as
    much CPU as running it."""
    filters = [] if completed is None else [Task.completed.is_(completed)]
    return _page_statements(order, filters, None)


async def list_tasks(
    source: Readable,
    user_id: str,
    *,
    completed: bool | None,
    search: str | None,
    order: Order,
    first: int,
    after: str | None,
) -> Page:
    check_page_size(first)
    term = None
    if search is not None and search.strip():
        if len(_no_nul("search", search)) > _MAX_SEARCH:
            raise BadUserInput("search", f"must be at most {_MAX_SEARCH} characters")
        term = search.strip()
    if term is None and not after:
        page_query, total_query = _plain_page_statements(order, completed)
    else:
        filters: list[ColumnElement[bool]] = []
        if completed is not None:
            filters.append(Task.completed.is_(completed))
        if term is not None:
            filters.append(
                Task.title.icontains(term, autoescape=True)
                | Task.description.icontains(term, autoescape=True)
            )
        cursor = after_cursor(order, after) if after else None
        page_query, total_query = _page_statements(order, filters, cursor)
    # Plain rows: a read needs no identity map or unit of work (nor, on its own, a transaction).
    # The total rides along with the page, so a page costs one round trip; only an empty page
    # asks for the total separately.
    params = {"owner": user_id, "page_limit": first + 1}
    async with read_connection(source) as connection:
        rows = (await connection.execute(page_query, params)).all()
        total = rows[0][-1] if rows else await connection.scalar(total_query, params)
    items = [TaskState._make(row[: len(TASK_COLUMNS)]) for row in rows[:first]]
    return Page(
        items=items,
        total=total or 0,
        has_next_page=len(rows) > first,
        end_cursor=encode_cursor(order, items[-1]) if items else None,
    )


# `_owned` with bound parameters, so the statement is built once, not per read.
_GET = select(*TASK_COLUMNS).where(
    Task.user_id == bindparam("owner"), Task.id == bindparam("task_id", type_=Integer())
)


async def get_task(source: Readable, user_id: str, task_id: int) -> TaskState:
    async with read_connection(source) as connection:
        row = (await connection.execute(_GET, {"owner": user_id, "task_id": task_id})).first()
    if row is None:
        raise NotFound()
    return TaskState._make(row)


async def create_task(
    session: AsyncSession, hub: EventHub | None, user_id: str, title: str, description: str | None
) -> TaskState:
    now = utcnow()
    values = {
        "user_id": user_id,
        "title": clean_title(title),
        "description": clean_description(description),
        "completed": False,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    row = (await session.execute(insert(Task).values(**values).returning(*TASK_COLUMNS))).one()
    task = TaskState._make(row)
    await events.commit(session, hub, TaskChange.written(ChangeKind.CREATED, task))
    return task


async def update_task(
    session: AsyncSession,
    hub: EventHub | None,
    user_id: str,
    task_id: int,
    changes: Mapping[str, Any],
    expected_version: int | None = None,
) -> TaskState:
    """PATCH semantics: only the keys present in `changes` are written."""
    values: dict[str, Any] = {}
    if "title" in changes:
        if changes["title"] is None:
            raise BadUserInput("title", "cannot be null")
        values["title"] = clean_title(changes["title"])
    if "description" in changes:
        values["description"] = clean_description(changes["description"])
    if "completed" in changes:
        if changes["completed"] is None:
            raise BadUserInput("completed", "cannot be null")
        values["completed"] = bool(changes["completed"])
    statement = update(Task).values(**values, **_changed())
    return await _write_one(session, hub, statement, user_id, task_id, expected_version)


async def toggle_task(
    session: AsyncSession,
    hub: EventHub | None,
    user_id: str,
    task_id: int,
    expected_version: int | None = None,
) -> TaskState:
    statement = update(Task).values(completed=not_(Task.completed), **_changed())
    return await _write_one(session, hub, statement, user_id, task_id, expected_version)


async def delete_task(
    session: AsyncSession,
    hub: EventHub | None,
    user_id: str,
    task_id: int,
    expected_version: int | None = None,
) -> int:
    where = _versioned(user_id, task_id, expected_version)
    deleted = await session.scalar(delete(Task).where(where).returning(Task.id))
    if deleted is None:
        await _refuse(session, user_id, task_id, expected_version)
    await events.commit(session, hub, TaskChange.deleted(int(deleted), user_id))
    return int(deleted)


def _changed() -> dict[str, Any]:
    """What every change also writes: the time, and the next version (in the statement, so
    concurrent changes each get their own)."""
    return {"updated_at": utcnow(), "version": Task.version + 1}


def _versioned(user_id: str, task_id: int, expected_version: int | None) -> ColumnElement[bool]:
    owned = _owned(user_id, task_id)
    return owned if expected_version is None else and_(owned, Task.version == expected_version)


async def _write_one(
    session: AsyncSession,
    hub: EventHub | None,
    statement: Any,
    user_id: str,
    task_id: int,
    expected_version: int | None,
) -> TaskState:
    """An UPDATE of one owned row (at `expected_version`, if given), returning its columns,
    committed and published as UPDATED."""
    # Nothing of the session's identity map is read back, so there is nothing to synchronise.
    result = await session.execute(
        statement.where(_versioned(user_id, task_id, expected_version)).returning(*TASK_COLUMNS),
        execution_options={"synchronize_session": False},
    )
    row = result.one_or_none()
    if row is None:
        await _refuse(session, user_id, task_id, expected_version)
    task = TaskState._make(row)
    await events.commit(session, hub, TaskChange.written(ChangeKind.UPDATED, task))
    return task


_VERSION = select(Task.version).where(
    Task.user_id == bindparam("owner"), Task.id == bindparam("task_id", type_=Integer())
)


async def _refuse(
    session: AsyncSession, user_id: str, task_id: int, expected_version: int | None
) -> NoReturn:
    """A write that matched no row: the task is not the caller's, or (with an expected
    version) it has moved on, which the caller learns as CONFLICT with the version it is at."""
    current = None
    if expected_version is not None:
        current = await session.scalar(_VERSION, {"owner": user_id, "task_id": task_id})
    await events.unwritten(session)
    if current is None:
        raise NotFound()
    raise Conflict(current)
