"""Keyset pagination: opaque cursors that name the order they belong to and the row's sort key."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, literal, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from db.models import Task, UTCDateTime
from resolvers.errors import BadUserInput

MAX_PAGE = 100
DEFAULT_PAGE = 20


class Order(Enum):
    CREATED_AT_DESC = "CREATED_AT_DESC"
    CREATED_AT_ASC = "CREATED_AT_ASC"
    UPDATED_AT_DESC = "UPDATED_AT_DESC"
    TITLE_ASC = "TITLE_ASC"


@dataclass(frozen=True, slots=True)
class _Key:
    column: InstrumentedAttribute[Any]
    descending: bool


_KEYS = {
    Order.CREATED_AT_DESC: _Key(Task.created_at, descending=True),
    Order.CREATED_AT_ASC: _Key(Task.created_at, descending=False),
    Order.UPDATED_AT_DESC: _Key(Task.updated_at, descending=True),
    Order.TITLE_ASC: _Key(Task.title, descending=False),
}


def check_page_size(first: int) -> int:
    if not 1 <= first <= MAX_PAGE:
        raise BadUserInput("first", f"must be between 1 and {MAX_PAGE}")
    return first


def order_by(order: Order) -> tuple[ColumnElement[Any], ...]:
    key = _KEYS[order]
    if key.descending:
        return (key.column.desc(), Task.id.desc())
    return (key.column.asc(), Task.id.asc())


def encode_cursor(order: Order, task: Any) -> str:
    """`task`: anything with the sort column and `id` as attributes (an entity or a row)."""
    value = getattr(task, _KEYS[order].column.key)
    sort_value = value.isoformat() if isinstance(value, datetime) else value
    raw = json.dumps([order.value, sort_value, task.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def after_cursor(order: Order, cursor: str) -> ColumnElement[bool]:
    """The WHERE clause selecting rows strictly after `cursor` in `order`."""
    key = _KEYS[order]
    sort_value, task_id = _decode(order, cursor)
    value_type = UTCDateTime() if key.column.key != "title" else String()
    boundary = tuple_(literal(sort_value, value_type), literal(task_id, Integer()))
    row = tuple_(key.column, Task.id)
    return row < boundary if key.descending else row > boundary


def _decode(order: Order, cursor: str) -> tuple[object, int]:
    invalid = BadUserInput("after", "is not a valid cursor for this ordering")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        name, sort_value, task_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise invalid from exc
    if name != order.value or not isinstance(task_id, int) or isinstance(task_id, bool):
        raise invalid
    if _KEYS[order].column.key == "title":
        if not isinstance(sort_value, str):
            raise invalid
        return sort_value, task_id
    try:
        moment = datetime.fromisoformat(sort_value)
    except (TypeError, ValueError) as exc:
        raise invalid from exc
    if moment.tzinfo is None:
        raise invalid
    return moment, task_id
