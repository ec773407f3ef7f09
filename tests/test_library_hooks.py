"""Where taskql leans on a library's private hooks, a library upgrade that moves them fails here.

Each hook is worth its keep (speed, or behaviour the public API lacks); each has behavioural
tests elsewhere too. These say, early and by name, which hook an upgrade broke.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import strawberry
from sqlalchemy.pool import AsyncAdaptedQueuePool, QueuePool
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from db.pool import FairAsyncPool
from schema.execution import PlainFieldExecutionContext, plain_fields


def parameters(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


def test_sqlalchemy_pool_keeps_the_hooks_the_fair_pool_overrides() -> None:
    """db/pool.py: FairAsyncPool swaps the queue and retires idle overflow connections."""
    assert issubclass(FairAsyncPool, AsyncAdaptedQueuePool)
    assert parameters(QueuePool._do_get) == ["self"]
    assert parameters(QueuePool._do_return_conn) == ["self", "record"]
    assert parameters(QueuePool._dec_overflow) == ["self"]
    assert "_queue_class" in vars(AsyncAdaptedQueuePool)
    pool = FairAsyncPool(lambda: None, pool_size=2, max_overflow=1)
    assert pool._overflow == -2  # QueuePool counts overflow from -pool_size
    assert type(pool._pool).__name__ == "FairQueue"


def test_uvicorn_keeps_the_protocol_hooks_the_head_timer_uses() -> None:
    """taskql/http/protocol.py: a timer from connection_made to on_headers_complete."""
    for hook in ("connection_made", "connection_lost", "on_message_begin", "on_headers_complete"):
        assert hook in vars(HttpToolsProtocol), hook
    assert parameters(HttpToolsProtocol.__init__)[:4] == [
        "self",
        "config",
        "server_state",
        "app_state",
    ]
    assert 408 in STATUS_LINE


def test_graphql_core_keeps_the_execution_hooks_taskql_overrides() -> None:
    """schema/execution.py: the plain-field shortcut and the mutation owner check."""
    base = StrawberryGraphQLCoreExecutionContext
    assert parameters(base.execute_fields) == [
        "self",
        "parent_type",
        "source_value",
        "path",
        "grouped_field_set",
        "position_context",
    ]
    assert parameters(base.execute_collected_root_fields) == [
        "self",
        "root_type",
        "root_value",
        "grouped_field_set",
        "serially",
        "new_defer_usages",
    ]


# A schema of plain fields, nulls, failed coercions, exceptions and awaitables, to run through
# the shortcut and through graphql-core's general path (schema/execution.py).


@strawberry.type
class Item:
    id: strawberry.ID
    name: str
    note: str | None
    count: int
    at: datetime


@dataclass
class Row:
    id: object
    name: object
    note: object
    count: object
    at: object


async def _late() -> str:
    await asyncio.sleep(0)
    return "late"


def _rows() -> list[Row]:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    return [
        Row("1", "plain", None, 3, now),
        Row(2, "an int id", "note", 0, now),
        Row("3", None, "null where non-null", 1, now),
        Row("4", "bad count", None, "not a number", now),
        Row("5", ValueError("boom"), None, 1, now),
        Row("6", "awaitable", None, 1, now),
    ]


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item | None]:
        rows = _rows()
        rows[5].name = _late()
        return rows  # type: ignore[return-value]

    @strawberry.field
    def one(self) -> Item:
        return _rows()[0]  # type: ignore[return-value]


DOCUMENTS = [
    "{ items { id name note count at } }",
    "{ items { __typename id n: name } one { id at } }",
    "{ one { count name note } }",
]


@pytest.fixture
async def schemas() -> AsyncIterator[tuple[strawberry.Schema, strawberry.Schema]]:
    shortcut_class: type[PlainFieldExecutionContext] = type(
        "Shortcut", (PlainFieldExecutionContext,), {"plain_fields": {}}
    )
    with_shortcut = strawberry.Schema(query=Query, execution_context_class=shortcut_class)
    shortcut_class.plain_fields = plain_fields(with_shortcut)
    general = strawberry.Schema(
        query=Query, execution_context_class=StrawberryGraphQLCoreExecutionContext
    )
    yield with_shortcut, general


def test_strawberry_still_marks_default_resolvers_so_the_shortcut_is_taken() -> None:
    """plain_fields reads Strawberry's `_is_default` mark and definition back-reference: if
    either moves, no field is plain and the shortcut silently stops being used."""
    schema = strawberry.Schema(query=Query)
    assert set(plain_fields(schema)["Item"]) == {"id", "name", "note", "count", "at"}


@pytest.mark.parametrize("document", DOCUMENTS)
async def test_the_plain_field_shortcut_answers_exactly_as_graphql_core(
    schemas: tuple[strawberry.Schema, strawberry.Schema], document: str
) -> None:
    with_shortcut, general = schemas
    fast = await with_shortcut.execute(document)
    slow = await general.execute(document)
    if "items" in document:
        assert slow.errors  # the nulls, failed coercions and exceptions above
    assert fast.data == slow.data
    assert [error.formatted for error in fast.errors or ()] == [
        error.formatted for error in slow.errors or ()
    ]
