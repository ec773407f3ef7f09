"""Pagination cursors through HTTP: real ones page correctly, tampered ones are BAD_USER_INPUT."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from db.models import TITLE_MAX
from resolvers import pagination
from tests.support.graphql import gql
from tests.support.operations import CREATE_TASK, LIST_TASKS, TOGGLE_TASK
from tests.support.tokens import TokenFactory

ORDERS = ("CREATED_AT_DESC", "CREATED_AT_ASC", "UPDATED_AT_DESC", "TITLE_ASC")
SORT_FIELD = {
    "CREATED_AT_DESC": "createdAt",
    "CREATED_AT_ASC": "createdAt",
    "UPDATED_AT_DESC": "updatedAt",
    "TITLE_ASC": "title",
}
A_MOMENT = "2024-05-01T12:00:00.123456+00:00"


def b64(raw: str | bytes) -> str:
    data = raw.encode() if isinstance(raw, str) else raw
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def pack(*parts: object) -> str:
    """A cursor around any JSON, wrapped the way the API wraps its own."""
    return b64(json.dumps(list(parts), separators=(",", ":")))


def unpack(cursor: str) -> list[Any]:
    decoded: list[Any] = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return decoded


class Alice:
    """One signed-in user paging through her tasks."""

    def __init__(self, client: httpx.AsyncClient, token: TokenFactory) -> None:
        self.client, self.token = client, token("alice")

    async def call(self, query: str, **variables: Any) -> httpx.Response:
        return await gql(self.client, query, {"userId": "alice", **variables}, token=self.token)

    async def create(self, title: str) -> dict[str, Any]:
        response = await self.call(CREATE_TASK, input={"title": title})
        task: dict[str, Any] = response.json()["data"]["createTask"]
        return task

    async def page(self, order: str, after: str | None = None, first: int = 20) -> dict[str, Any]:
        response = await self.call(LIST_TASKS, orderBy=order, after=after, first=first)
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, response.text
        page: dict[str, Any] = body["data"]["tasks"]
        return page


@pytest.fixture
def alice(client: httpx.AsyncClient, token: TokenFactory) -> Alice:
    return Alice(client, token)


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None, body
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}
    assert error["message"] == "after: is not a valid cursor for this ordering"


@pytest.mark.parametrize("depth", [1_100, 10_000])
async def test_deeply_nested_json_in_a_cursor_is_bad_user_input(alice: Alice, depth: int) -> None:
    cursor = b64(f'["CREATED_AT_DESC",{"[" * depth}{"]" * depth},1]')
    assert_refused(await alice.call(LIST_TASKS, after=cursor))


@pytest.mark.parametrize("task_id", [2**31, 2**63, 10**30])
async def test_an_id_beyond_the_integer_column_is_bad_user_input(
    alice: Alice, task_id: int
) -> None:
    assert_refused(await alice.call(LIST_TASKS, after=pack("CREATED_AT_DESC", A_MOMENT, task_id)))


@pytest.mark.parametrize("task_id", [0, -1])
async def test_an_id_that_is_not_positive_is_bad_user_input(alice: Alice, task_id: int) -> None:
    assert_refused(await alice.call(LIST_TASKS, after=pack("CREATED_AT_DESC", A_MOMENT, task_id)))


@pytest.mark.parametrize(
    ("order", "moment"),
    [
        ("CREATED_AT_DESC", "9999-12-31T23:59:59-01:00"),
        ("UPDATED_AT_DESC", "0001-01-01T00:00:00+01:00"),
        ("CREATED_AT_ASC", "9999-12-31T23:59:59.999999-00:00:01"),
    ],
)
async def test_a_timestamp_that_overflows_in_utc_is_bad_user_input(
    alice: Alice, order: str, moment: str
) -> None:
    assert_refused(await alice.call(LIST_TASKS, orderBy=order, after=pack(order, moment, 1)))


async def test_a_nul_in_a_title_boundary_is_bad_user_input(alice: Alice) -> None:
    response = await alice.call(
        LIST_TASKS, orderBy="TITLE_ASC", after=pack("TITLE_ASC", "a\x00b", 1)
    )
    assert_refused(response)


@pytest.mark.parametrize("title", ["\ud800", "a\udfffb"])
async def test_a_lone_surrogate_in_a_title_boundary_is_bad_user_input(
    alice: Alice, title: str
) -> None:
    response = await alice.call(LIST_TASKS, orderBy="TITLE_ASC", after=pack("TITLE_ASC", title, 1))
    assert_refused(response)


@pytest.mark.parametrize("length", [TITLE_MAX + 1, 5_000])
async def test_a_title_boundary_longer_than_any_title_is_bad_user_input(
    alice: Alice, length: int
) -> None:
    cursor = pack("TITLE_ASC", "x" * length, 1)
    assert_refused(await alice.call(LIST_TASKS, orderBy="TITLE_ASC", after=cursor))


REAL = pack("CREATED_AT_DESC", A_MOMENT, 7)
QUESTIONS = pack("TITLE_ASC", "???>", 7)  # its base64 holds both - and _


@pytest.mark.parametrize(
    ("order", "cursor"),
    [
        ("CREATED_AT_DESC", b64(f'["CREATED_AT_DESC", "{A_MOMENT}", 7]')),
        ("CREATED_AT_DESC", pack("CREATED_AT_DESC", A_MOMENT.replace("+00:00", "Z"), 7)),
        ("CREATED_AT_DESC", pack("CREATED_AT_DESC", A_MOMENT.replace("T", " "), 7)),
        ("CREATED_AT_DESC", pack("CREATED_AT_DESC", "2024-05-01T12:00:00.000000+00:00", 7)),
        ("CREATED_AT_DESC", pack("CREATED_AT_DESC", "2024-05-01T17:30:00.123456+05:30", 7)),
        ("CREATED_AT_DESC", REAL + "=" * (-len(REAL) % 4)),
        ("CREATED_AT_DESC", REAL[:-1] + chr(ord(REAL[-1]) + 1)),  # same bytes, other spare bits
        ("TITLE_ASC", QUESTIONS.replace("-", "+").replace("_", "/")),
        ("TITLE_ASC", b64('["TITLE_ASC","\\u00C4rger",7]')),
        ("TITLE_ASC", b64('["TITLE_ASC","a\\/b",7]')),
    ],
    ids=[
        "spaced",
        "zulu",
        "space-separated",
        "zero-fraction",
        "same-instant-other-offset",
        "padded",
        "spare-bits",
        "standard-alphabet",
        "upper-case-escape",
        "escaped-slash",
    ],
)
async def test_a_cursor_in_any_form_but_the_one_the_api_writes_is_bad_user_input(
    alice: Alice, order: str, cursor: str
) -> None:
    assert_refused(await alice.call(LIST_TASKS, orderBy=order, after=cursor))


TRICKY_TITLES = [
    "\U0001f600" * TITLE_MAX,  # the longest cursor there is: every character a surrogate pair
    'say "hi" \\ back\\slash',
    "\x01 control",
    "Ärger",
    "same",
    "same",
    "zzz",
]


async def seed(alice: Alice, titles: list[str]) -> None:
    tasks = [await alice.create(title) for title in titles]
    for task in tasks[::2]:
        await alice.call(TOGGLE_TASK, id=task["id"])


@pytest.mark.parametrize("order", ORDERS)
async def test_real_cursors_page_through_every_task_once_in_every_order(
    alice: Alice, order: str
) -> None:
    await seed(alice, TRICKY_TITLES)
    everything = (await alice.page(order))["items"]
    assert len(everything) == len(TRICKY_TITLES)
    for first in (1, 2):
        seen: list[dict[str, Any]] = []
        after = None
        while True:
            page = await alice.page(order, after, first)
            seen += page["items"]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == everything


# Every value a row can hold: ids of the int4 column; UTC timestamps (the columns hand back
# nothing else); titles within the limit, of any character PostgreSQL stores, up to the
# longest cursor there is (every character escaped as a surrogate pair).
row_ids = st.integers(min_value=1, max_value=2**31 - 1)
moments = st.datetimes(timezones=st.just(UTC))
# What a stored title can hold: no NUL, no lone surrogates (category Cs), which no row has.
titles = st.text(
    st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=TITLE_MAX
) | st.text(st.characters(min_codepoint=0x10000), min_size=TITLE_MAX, max_size=TITLE_MAX)


@settings(max_examples=300, deadline=None)
@given(order=st.sampled_from(list(pagination.Order)), data=st.data(), task_id=row_ids)
def test_every_cursor_the_api_writes_decodes_to_its_row(
    order: pagination.Order, data: st.DataObject, task_id: int
) -> None:
    if order is pagination.Order.TITLE_ASC:
        value: object = data.draw(titles)
        row = SimpleNamespace(title=value, id=task_id)
    else:
        value = data.draw(moments)
        row = SimpleNamespace(created_at=value, updated_at=value, id=task_id)
    assert pagination.decode_cursor(order, pagination.encode_cursor(order, row)) == (value, task_id)


@dataclass
class Seeded:
    alice: Alice
    everything: dict[str, list[dict[str, Any]]]  # each order's full listing, no cursor
    cursors: list[str]  # every real endCursor, of every order


@pytest.fixture
async def seeded(alice: Alice) -> Seeded:
    await seed(alice, ["b", "B", "a", "Ärger", "same", "same", "\U0001f600"])
    everything = {order: (await alice.page(order))["items"] for order in ORDERS}
    cursors = []
    for order in ORDERS:
        after = None
        while True:
            page = await alice.page(order, after, first=1)
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
            cursors.append(after)
    return Seeded(alice, everything, cursors)


def sort_key(order: str, task: dict[str, Any]) -> tuple[object, int]:
    value = task[SORT_FIELD[order]]
    if order != "TITLE_ASC":
        value = datetime.fromisoformat(value).astimezone(UTC)
    return value, int(task["id"])


def expected_items(seeded: Seeded, order: str, cursor: str, first: int) -> list[dict[str, Any]]:
    """The rows after an accepted cursor's boundary. Both test databases order titles by code
    point (SQLite's BINARY, the C.UTF-8 PostgreSQL of the test server), as Python does."""
    _, value, task_id = unpack(cursor)
    boundary = sort_key(order, {SORT_FIELD[order]: value, "id": task_id})
    descending = order.endswith("_DESC")
    after = [
        task
        for task in seeded.everything[order]
        if (sort_key(order, task) < boundary if descending else sort_key(order, task) > boundary)
    ]
    return after[: first + 1]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
fixed_offsets = st.timedeltas(
    min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)
).map(timezone)
EDGE_VALUES = [
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00+01:00",
    "a\x00",
    "\ud800",
    "x" * (TITLE_MAX + 1),
]
EDGE_IDS = [0, -1, 1, 2**31 - 1, 2**31, 2**63, 10**30]


def near_valid(order: str) -> st.SearchStrategy[str]:
    """Cursors of the right shape, mostly for the right order, with values at and past the
    edges of what the database can compare."""
    return st.tuples(
        st.just(order) | st.sampled_from(ORDERS) | st.text(max_size=20),
        st.datetimes(timezones=st.just(UTC) | fixed_offsets).map(datetime.isoformat)
        | st.sampled_from(EDGE_VALUES)
        | json_values,
        st.sampled_from(EDGE_IDS) | st.integers() | json_values,
    ).map(lambda parts: pack(*parts))


deep_nesting = st.integers(min_value=900, max_value=3_000).map(lambda d: b64("[" * d + "]" * d))


def mutate(cursor: str, position: int, replacement: str, kind: str) -> str:
    at = position % (len(cursor) + 1)
    if kind == "replace":
        return cursor[:at] + replacement + cursor[at + 1 :]
    if kind == "insert":
        return cursor[:at] + replacement + cursor[at:]
    if kind == "delete":
        return cursor[:at] + cursor[at + 1 :]
    return cursor[:at]  # truncate


base64_alphabet = st.sampled_from(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.data(),
    order=st.sampled_from(ORDERS),
    first=st.integers(min_value=1, max_value=3),
)
async def test_any_cursor_gives_a_correct_page_or_bad_user_input_never_a_server_error(
    seeded: Seeded, data: st.DataObject, order: str, first: int
) -> None:
    real = st.sampled_from(seeded.cursors)
    cursor = data.draw(
        st.text(max_size=300)
        | st.binary(max_size=300).map(b64)
        | json_values.map(lambda value: b64(json.dumps(value)))
        | deep_nesting
        | near_valid(order)
        | near_valid(order)
        | real
        | st.builds(
            mutate,
            real,
            st.integers(min_value=0),
            base64_alphabet | st.text(max_size=3),
            st.sampled_from(["replace", "insert", "delete", "truncate"]),
        ),
        label="cursor",
    )
    response = await seeded.alice.call(LIST_TASKS, orderBy=order, after=cursor, first=first)
    assert response.status_code == 200, response.text
    body = response.json()
    if "errors" in body:
        event("refused")
        assert_refused(response)
        return
    event("accepted")
    page = body["data"]["tasks"]
    if not cursor:  # an empty cursor is no cursor: the first page
        following = seeded.everything[order][: first + 1]
    else:
        following = expected_items(seeded, order, cursor, first)
    assert page["items"] == following[:first]
    assert page["pageInfo"]["hasNextPage"] == (len(following) > first)
    assert page["total"] == len(seeded.everything[order])
