"""Keyset pagination: opaque cursors that name the order they belong to and the row's sort key."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, literal, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from db.models import MAX_TASK_ID, TITLE_MAX, Task, UTCDateTime
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

# The longest cursor encode_cursor writes: `["ORDER","value",id]` with a title of TITLE_MAX
# astral characters, each of which json.dumps escapes as a surrogate pair (12 characters). A
# timestamp is shorter. Anything longer is refused before it is decoded at all.
_MAX_JSON = (
    len('["","",]') + max(len(o.value) for o in Order) + 12 * TITLE_MAX + len(str(MAX_TASK_ID))
)
_MAX_CURSOR = -(-4 * _MAX_JSON // 3)  # unpadded base64
# The one shape encode_cursor writes. Matching it first means json.loads only ever sees a single
# string literal: no nesting to recurse into, no numbers to overflow, no extra fields.
_SHAPE = re.compile(r'\["([A-Z_]+)",("(?:[^"\\]|\\.)*"),([1-9][0-9]{0,9})\]', re.ASCII)
_SURROGATE = re.compile("[\ud800-\udfff]")


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
    return _pack(order, getattr(task, _KEYS[order].column.key), task.id)


def _pack(order: Order, value: object, task_id: int) -> str:
    sort_value = value.isoformat() if isinstance(value, datetime) else value
    return opaque(json.dumps([order.value, sort_value, task_id], separators=(",", ":")))


def opaque(text: str) -> str:
    """A cursor's text as clients see it: base64url, unpadded (SPEC §2: cursors are opaque)."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def unwrap_opaque(cursor: str) -> str:
    """`opaque`'s text back; ValueError (binascii.Error, UnicodeDecodeError) if it is none."""
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")


def after_cursor(order: Order, cursor: str) -> ColumnElement[bool]:
    """The WHERE clause selecting rows strictly after `cursor` in `order`."""
    key = _KEYS[order]
    sort_value, task_id = decode_cursor(order, cursor)
    value_type = String() if isinstance(sort_value, str) else UTCDateTime()
    boundary = tuple_(literal(sort_value, value_type), literal(task_id, Integer()))
    row = tuple_(key.column, Task.id)
    return row < boundary if key.descending else row > boundary


def decode_cursor(order: Order, cursor: str) -> tuple[datetime | str, int]:
    """The boundary (sort value, id) of a cursor that encode_cursor wrote for `order`.

    Clients only hand back cursors we gave them, so anything else is refused, however close:
    a cursor is accepted only in exactly the form encode_cursor gives its contents, and only
    with values a row can hold (an id in the column's range, a UTC timestamp, a title within
    the limit that PostgreSQL can store).
    """
    if len(cursor) > _MAX_CURSOR:
        raise _invalid()
    try:
        shape = _SHAPE.fullmatch(unwrap_opaque(cursor))
        if shape is None or shape[1] != order.value:
            raise _invalid()
        written = json.loads(shape[2])
        task_id = int(shape[3])
        value = _title(written) if _KEYS[order].column.key == "title" else _moment(written)
    except ValueError as exc:  # binascii.Error, JSONDecodeError and UnicodeDecodeError included
        raise _invalid() from exc
    if task_id > MAX_TASK_ID or _pack(order, value, task_id) != cursor:
        raise _invalid()
    return value, task_id


def _title(written: str) -> str:
    # NUL and lone surrogates can be in JSON but in no stored title (PostgreSQL refuses both).
    if len(written) > TITLE_MAX or "\x00" in written or _SURROGATE.search(written):
        raise ValueError("not a title")
    return written


def _moment(written: str) -> datetime:
    # The columns hand back UTC, so encode_cursor only ever writes +00:00. Another offset names
    # no row, may overflow when converted (near year 1 or 9999), and need not survive a round
    # trip (Python 3.11 reads +00:00:00.000001 as +00:00).
    moment = datetime.fromisoformat(written)
    if moment.utcoffset() != timedelta(0):
        raise ValueError("not a UTC timestamp")
    return moment


def _invalid() -> BadUserInput:
    return BadUserInput("after", "is not a valid cursor for this ordering")
