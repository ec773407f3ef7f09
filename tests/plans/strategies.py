"""Requests for the differential test: the front end's operations and generated documents (aliases,
field order, __typename, repeated fields, nested and named fragments, directives, several root
fields or operations), with variables that fit and that do not."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from graphql import build_schema
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from hypothesis_graphql import from_schema

from resolvers.pagination import Order, encode_cursor
from tests.plans.conftest import EPOCH, USERS, Request
from tests.support.operations import NAMES, operation
from tests.support.paths import SCHEMA

TASK_FIELDS = tuple(
    ["id", "userId", "title", "description", "completed", "createdAt", "updatedAt", "version"]
)
# Every variable a generated document may use, by name, with the type it is declared with;
# a trailing 2 is the second root field's own.
VARIABLE_TYPES = {
    "userId": "ID!",
    "id": "ID!",
    "filter": "TaskFilter",
    "orderBy": "TaskOrder",
    "first": "Int",
    "after": "String",
    "input": "CreateTaskInput!",
    "patch": "UpdateTaskInput!",
    "expectedVersion": "Int",
    "flag": "Boolean!",
}
CONTRACT_VARIABLES = {
    "ListTasks": ("userId", "filter", "orderBy", "first", "after"),
    "GetTask": ("userId", "id"),
    "CreateTask": ("userId", "input"),
    "UpdateTask": ("userId", "id", "patch", "expectedVersion"),
    "ToggleTaskComplete": ("userId", "id", "expectedVersion"),
    "DeleteTask": ("userId", "id", "expectedVersion"),
    "Me": (),
    "TaskEvents": ("userId", "after"),
}
CONTRACT_NAMES = {"UpdateTask": {"patch": "input"}}  # the contract's own variable names
JSON = "application/json"
CALLER = "<the caller>"  # a userId variable that names whoever sends the token
VARIABLE = re.compile(r"\$([A-Za-z]+)(2?)\b")

text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
titles = st.one_of(
    text,
    st.sampled_from(["", "   ", " padded ", "\x00nul", "ünïcødé ✓", "日本語のタスク", "🙂" * 3]),
    st.integers(198, 202).map(lambda n: "é" * n),
)


def _storable(value: str) -> str:
    return value.replace("\x00", "")  # PostgreSQL text holds no NUL


# Seeds: the rows both databases start an example with.
@st.composite
def seed_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows = []
    for _ in range(draw(st.integers(0, 7))):
        created = EPOCH - timedelta(minutes=draw(st.integers(1, 4)))  # ties are likely
        rows.append(
            {
                "user_id": draw(st.sampled_from(USERS)),
                "title": draw(text.map(_storable).map(lambda t: t.strip() or "task")),
                "description": draw(st.none() | text.map(_storable)),
                "completed": draw(st.booleans()),
                "created_at": created,
                "updated_at": created + timedelta(seconds=draw(st.integers(0, 90))),
                "version": draw(st.integers(1, 3)),
            }
        )
    return rows


@dataclass(frozen=True)
class World:
    """What the variables may name: the seeded tasks' ids and cursors."""

    ids: list[int]
    cursors: list[str]

    @classmethod
    def of(cls, rows: list[dict[str, Any]], ids: list[int]) -> World:
        cursors = [
            encode_cursor(order, SimpleNamespace(id=task_id, **row))
            for row, task_id in zip(rows, ids, strict=True)
            for order in Order
        ]
        return cls(ids, cursors)


def weighted(*choices: tuple[int, SearchStrategy[Any]]) -> SearchStrategy[Any]:
    """One of `choices`, each as likely as its weight says (one_of alone picks evenly)."""
    slots = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(0, len(slots) - 1).flatmap(lambda index: slots[index])


def values(kind: str, world: World) -> SearchStrategy[Any]:
    """A variable's value: mostly ones that fit, plus wrong types and broken values."""
    task_ids = st.sampled_from(world.ids or [1]).map(str)
    weird_ids = st.sampled_from(["999999", "0", "-3", "abc", " 2 ", "2.0", "١", "9" * 25, ""])
    wrong: SearchStrategy[Any] = st.sampled_from([5, [], None, {"a": 1}, True])
    choices: dict[str, SearchStrategy[Any]] = {
        "userId": weighted(
            (12, st.just(CALLER)), (3, st.sampled_from(["ann", "ben", "nobody"])), (1, wrong)
        ),
        "id": weighted((10, task_ids), (3, weird_ids), (1, st.sampled_from([2, 1.5, None]))),
        "filter": weighted(
            (3, st.none()),
            (3, st.fixed_dictionaries({}, optional={"completed": st.none() | st.booleans()})),
            (3, st.fixed_dictionaries({"search": text | st.just("x" * 201)})),
            (1, st.sampled_from([{"completed": "yes"}, {"bogus": 1}, "filter"])),
        ),
        "orderBy": weighted(
            (2, st.none()), (6, st.sampled_from([o.value for o in Order])), (1, st.just("BOGUS"))
        ),
        "first": weighted(
            (2, st.none()),
            (6, st.integers(1, 100) | st.integers(1, 4)),
            (1, st.sampled_from([0, 101, -1, 2**31, "5", 1.5])),
        ),
        "after": weighted(
            (5, st.none()),
            (4, st.sampled_from(world.cursors or ["none"])),
            (1, st.sampled_from(["", "garbage", "WyJ4Il0", 42])),
        ),
        "input": weighted(
            (
                9,
                st.fixed_dictionaries(
                    {"title": titles},
                    optional={"description": st.none() | text | st.just("d" * 1001)},
                ),
            ),
            (1, st.sampled_from([{}, {"title": 5}, None, {"title": "t", "extra": 1}])),
        ),
        "patch": st.fixed_dictionaries(
            {},
            optional={
                "title": weighted((1, st.none()), (6, titles)),
                "description": st.none() | text,
                "completed": weighted((1, st.none()), (6, st.booleans()), (1, st.just("x"))),
            },
        ),
        "expectedVersion": weighted(
            (4, st.none()), (6, st.integers(0, 4)), (1, st.sampled_from(["1", 2**40]))
        ),
        "flag": st.booleans(),
    }
    return choices[kind]


@st.composite
def variables_for(draw: st.DrawFn, names: list[str], world: World) -> dict[str, Any] | None:
    if draw(st.integers(0, 19)) == 0:
        return None  # no variables member at all
    found = {}
    for name in names:
        if draw(st.integers(0, 29)) == 0:
            continue  # left out: a required one is a coercion error
        kind = name.rstrip("2")
        found[name] = draw(values(kind, world))
    return found


# Generated selections.
def _aliased(name: str) -> SearchStrategy[str]:
    alias = weighted(
        (16, st.none()), (3, st.sampled_from([f"{name}A", f"my_{name}"])), (1, st.just("same"))
    )
    return alias.map(lambda a: f"{a}: {name}" if a else name)


def _leaves(names: tuple[str, ...]) -> SearchStrategy[str]:
    return st.sampled_from([*names, "__typename"]).flatmap(_aliased)


def _body(items: SearchStrategy[str], size: int = 6) -> SearchStrategy[str]:
    return st.lists(items, min_size=1, max_size=size).map(" ".join)


def _inline(type_name: str, body: SearchStrategy[str]) -> SearchStrategy[str]:
    return st.tuples(st.booleans(), body).map(
        lambda t: f"... on {type_name} {{ {t[1]} }}" if t[0] else f"... {{ {t[1]} }}"
    )


def object_body(type_name: str, names: tuple[str, ...], spreads: list[str]) -> SearchStrategy[str]:
    leaf = _leaves(names)
    inner = _inline(type_name, _body(leaf, 4))
    nested = _inline(type_name, _body(leaf | inner, 4))
    spread = st.sampled_from(spreads).map(lambda n: f"...{n}") if spreads else leaf
    return _body(leaf | leaf | leaf | inner | nested | spread, 6)


def task_body() -> SearchStrategy[str]:
    return object_body("Task", TASK_FIELDS, ["TaskA", "TaskB"])


def connection_body() -> SearchStrategy[str]:
    items = st.tuples(_aliased("items"), task_body()).map(lambda t: f"{t[0]} {{ {t[1]} }}")
    page_info = st.tuples(
        _aliased("pageInfo"), object_body("PageInfo", ("hasNextPage", "endCursor"), [])
    ).map(lambda t: f"{t[0]} {{ {t[1]} }}")
    plain = st.sampled_from(["total", "__typename", "totalA: total"])
    return _body(items | items | page_info | plain, 5)


def _arguments(names: list[str], suffix: str, literals: dict[str, str]) -> SearchStrategy[str]:
    """`(name: $name, ...)`, some left out, some as literals."""

    @st.composite
    def build(draw: st.DrawFn) -> str:
        parts = []
        for name in names:
            form = draw(st.integers(0, 9))
            if form == 0 and name not in ("userId", "id", "input", "patch"):
                continue
            if form == 1 and name in literals:
                parts.append(f"{_argument_name(name)}: {literals[name]}")
            else:
                parts.append(f"{_argument_name(name)}: ${name}{suffix}")
        return "(" + ", ".join(parts) + ")" if parts else ""

    return build()


def _argument_name(variable: str) -> str:
    return "input" if variable == "patch" else variable


LITERALS = {
    "userId": '"ann"',
    "id": '"1"',
    "first": "3",
    "orderBy": "TITLE_ASC",
    "filter": "{completed: false}",
    "after": '"nope"',
    "input": '{title: "literal"}',
    "expectedVersion": "1",
}
QUERY_FIELDS = {
    "tasks": ["userId", "filter", "orderBy", "first", "after"],
    "task": ["userId", "id"],
    "me": [],
}
MUTATION_FIELDS = {
    "createTask": ["userId", "input"],
    "updateTask": ["userId", "id", "patch", "expectedVersion"],
    "deleteTask": ["userId", "id", "expectedVersion"],
    "toggleTaskComplete": ["userId", "id", "expectedVersion"],
}


@st.composite
def root_field(draw: st.DrawFn, name: str, suffix: str = "") -> str:
    arguments = QUERY_FIELDS.get(name) or MUTATION_FIELDS.get(name, [])
    head = draw(_aliased(name)) + draw(_arguments(arguments, suffix, LITERALS))
    if name == "deleteTask":
        return head
    if name == "tasks":
        body = draw(connection_body())
    elif name == "me":
        body = draw(object_body("Viewer", ("id", "email", "name"), []))
    else:
        body = draw(task_body())
    return f"{head} {{ {body} }}"


@st.composite
def generated(draw: st.DrawFn) -> tuple[str, str | None]:
    """A document and the operationName to send with it."""
    mutation = draw(st.booleans())
    if mutation:
        names = draw(st.lists(st.sampled_from(sorted(MUTATION_FIELDS)), min_size=1, max_size=2))
    else:
        names = [draw(st.sampled_from(sorted(QUERY_FIELDS)))]
        if draw(st.integers(0, 7)) == 0:
            names.append(draw(st.sampled_from(sorted(QUERY_FIELDS))))  # the general path's
    roots = [draw(root_field(name, "2" if index else "")) for index, name in enumerate(names)]
    if draw(st.integers(0, 3)) == 0:
        roots.insert(draw(st.integers(0, len(roots))), draw(_aliased("__typename")))
    selection = " ".join(roots)
    if draw(st.integers(0, 5)) == 0:  # a directive somewhere: the general path's
        directive = draw(st.sampled_from(["@include(if: $flag)", "@skip(if: true)"]))
        field = draw(st.sampled_from(["title", "id", "total", "email", "version"]))
        selection = selection.replace(f" {field} ", f" {field} {directive} ", 1)
    fragments = []
    task_b = draw(object_body("Task", TASK_FIELDS, []))
    task_a = draw(object_body("Task", TASK_FIELDS, ["TaskB"]))
    if "...TaskA" in selection:
        fragments.append(f"fragment TaskA on Task {{ {task_a} }}")
    if "...TaskB" in selection or ("...TaskA" in selection and "...TaskB" in task_a):
        fragments.append(f"fragment TaskB on Task {{ {task_b} }}")
    used = selection + " ".join(fragments)
    declared = dict.fromkeys(m[1] + m[2] for m in VARIABLE.finditer(used))
    kind = "mutation" if mutation else "query"
    definitions = ", ".join(f"${v}: {VARIABLE_TYPES[v.rstrip('2')]}" for v in declared)
    name = draw(st.sampled_from(["Generated", ""]))
    head = f"{kind} {name}({definitions})" if definitions else f"{kind} {name}"
    if not mutation and not definitions and not name and draw(st.booleans()):
        head = ""  # the query shorthand
    document = "\n".join([f"{head} {{ {selection} }}", *fragments])
    operation_name = name or None
    if name and draw(st.integers(0, 5)) == 0:  # a second operation: operationName chooses
        document += "\nquery Other { me { id } }"
        operation_name = draw(st.sampled_from([name, None, "Other", "Missing"]))
    return document, operation_name


FROM_SCHEMA = from_schema(build_schema(SCHEMA.read_text()), fields=["me", "task", "tasks"])


@st.composite
def requests(draw: st.DrawFn, world: World) -> Request:
    source = draw(st.integers(0, 9))
    if source < 4:
        name = draw(st.sampled_from(NAMES))
        document = operation(name)
        operation_name: str | None = draw(st.sampled_from([name, name, None, "Wrong"]))
        names = list(CONTRACT_VARIABLES[name])
        drawn = draw(variables_for(names, world))
        renames = CONTRACT_NAMES.get(name, {})
        variables = {renames.get(k, k): v for k, v in drawn.items()} if drawn is not None else None
    elif source < 9:
        document, operation_name = draw(generated())
        names = [m[1] + m[2] for m in VARIABLE.finditer(document)]
        variables = draw(variables_for(list(dict.fromkeys(names)), world))
    else:
        document, operation_name, variables = str(draw(FROM_SCHEMA)), None, None
    user = draw(st.sampled_from([*USERS, *USERS, None]))
    if variables is not None:
        variables = {k: (user or "ann") if v == CALLER else v for k, v in variables.items()}
    return Request(
        document,
        variables,
        operation_name,
        user=user,
        accept=draw(
            st.sampled_from([None, "application/json", "application/graphql-response+json"])
        ),
        get=draw(st.integers(0, 15)) == 0,
    )
