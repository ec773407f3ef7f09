"""Arbitrary GraphQL documents over POST: never a 5xx, every error coded, each answered quickly.

Documents are drawn from the contract's own types and fields (schema.graphql), with what makes
validation work hard or go wrong: fragments named, inline and nested, spread many times, unknown
or cyclic; aliases that collide; @include/@skip on literals and variables, unknown directives;
variables declared or not, with values that fit or do not. All stay under the token limit.
"""

from __future__ import annotations

import contextlib
import gc
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSyntaxError,
    Lexer,
    Source,
    TokenKind,
    Undefined,
    build_schema,
    get_named_type,
)
from hypothesis import HealthCheck, assume, event, given, note, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from tests.support.apps import ClientFactory
from tests.support.graphql import CLIENT_CODES
from tests.support.paths import SCHEMA
from tests.support.timing import overrun_guard
from tests.support.tokens import hs256_token

CONTRACT = build_schema(SCHEMA.read_text())
USER = "fuzz-user"
MAX_TOKENS = 1000  # the default limit: documents stay within it, so validation sees them all
BUDGET = 0.5  # seconds per request, measured around it
CODES = CLIENT_CODES | {"UNAUTHENTICATED"}  # codes a document may earn

# Strategies are built once, at import: building them per draw made each example several times
# slower to draw than to send.
OBJECTS = sorted(
    name
    for name, kind in CONTRACT.type_map.items()
    if isinstance(kind, GraphQLObjectType) and not name.startswith("__")
)
VARIABLES = {
    "flag": "Boolean",
    "must": "Boolean!",
    "user": "ID!",
    "id": "ID",
    "first": "Int",
    "text": "String",
    "filter": "TaskFilter",
    "input": "CreateTaskInput!",
    "patch": "UpdateTaskInput",
    "order": "TaskOrder",
}
NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*\Z")
FRAGMENT_NAMES = st.lists(st.sampled_from(["F0", "F1", "F2", "F3", "F4"]), unique=True, max_size=4)
TYPES = st.sampled_from(OBJECTS)
DECLARED = st.lists(st.sampled_from(sorted(VARIABLES)), unique=True, max_size=3)
TENTHS = st.integers(0, 9)
COUNTS = st.integers(1, 3)
FLAGS = st.sampled_from([True, False, True, False, None, "yes"])  # the last two do not coerce
KINDS = st.sampled_from(["field", "field", "field", "inline", "spread"])

ids = st.sampled_from([USER, USER, "other-user", "1", "2", "999", "", "x" * 40])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8) | ids,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)
condition = st.sampled_from(["true", "false", "$flag", "$must", "$text", "1"])
directive = st.one_of(
    st.builds("@{}(if: {})".format, st.sampled_from(["include", "skip"]), condition),
    st.sampled_from(["@include", "@skip", "@unknown", "@deprecated", "@include(if: true, x: 1)"]),
)


def literal_of(value: Any) -> str:
    """A JSON value as a GraphQL literal (json.dumps writes GraphQL's string escapes)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(literal_of(item) for item in value) + "]"
    if isinstance(value, dict):
        fields = (f"{name}: {literal_of(item)}" for name, item in value.items() if NAME.match(name))
        return "{" + ", ".join(fields) + "}"
    return json.dumps(value)


def literals(kind: GraphQLInputType, careful: bool, depth: int = 0) -> SearchStrategy[str]:
    """Literals of the argument's type; when careless, also variables and values that are wrong."""
    nullable = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
    fitting: SearchStrategy[str]
    if isinstance(nullable, GraphQLList):
        fitting = literals(nullable.of_type, careful, depth + 1).map("[{}]".format)
    elif isinstance(nullable, GraphQLEnumType):
        fitting = st.sampled_from([*nullable.values, *([] if careful else ["NOPE"])])
    elif isinstance(nullable, GraphQLInputObjectType) and depth < 2:
        pairs = [
            literals(spec.type, careful, depth + 1).map(f"{name}: {{}}".format)
            for name, spec in nullable.fields.items()
        ]
        # Careful: every required field and each optional one or not; careless: any three.
        fitting = (
            st.tuples(
                *(
                    pair if is_required(spec) else st.just("") | pair
                    for pair, spec in zip(pairs, nullable.fields.values(), strict=True)
                )
            ).map(lambda written: "{" + ", ".join(item for item in written if item) + "}")
            if careful
            else st.lists(st.one_of(pairs), max_size=3).map(", ".join).map("{{{}}}".format)
        )
    elif getattr(nullable, "name", None) == "Boolean":
        fitting = st.booleans().map(literal_of)
    elif getattr(nullable, "name", None) == "Int":
        fitting = (st.integers(-5, 120) if careful else st.integers()).map(literal_of)
    else:
        fitting = (ids | st.text(max_size=12)).map(literal_of)
    if careful:
        return fitting
    variable = st.sampled_from(sorted(VARIABLES)).map("${}".format)
    return st.one_of(*[fitting] * 8, variable, json_values.map(literal_of))


def is_required(spec: GraphQLArgument | GraphQLInputField) -> bool:
    return isinstance(spec.type, GraphQLNonNull) and spec.default_value is Undefined


def fields_of(type_name: str) -> dict[str, GraphQLField]:
    kind = CONTRACT.type_map[type_name]
    return kind.fields if isinstance(kind, GraphQLObjectType) else {}


@dataclass(frozen=True)
class Style:
    """The choices open to a document: a careful one is meant to be valid, so that it runs."""

    careful: bool
    directives: SearchStrategy[str]
    aliases: SearchStrategy[str]

    @cached_property
    def field_names(self) -> dict[str, SearchStrategy[str]]:
        wrong = [] if self.careful else ["nope"]
        return {
            name: st.sampled_from([*sorted(fields_of(name)), "__typename", *wrong])
            for name in OBJECTS
        }

    @cached_property
    def arguments(self) -> dict[tuple[str, str, str], SearchStrategy[str]]:
        return {
            (type_name, field_name, argument): literals(spec.type, self.careful)
            for type_name in OBJECTS
            for field_name, field_spec in fields_of(type_name).items()
            for argument, spec in field_spec.args.items()
        }


CAREFUL = Style(
    careful=True,
    directives=st.sampled_from(
        ["", "", "", "@include(if: true)", "@skip(if: false)", "@skip(if: true)"]
    ),
    aliases=st.sampled_from(["", "", "", "", "a_", "b_"]),  # prefixes of the field's name
)
CARELESS = Style(
    careful=False,
    directives=st.lists(directive, max_size=2).map(" ".join),
    aliases=st.sampled_from(["", "", "", "a: ", "b: ", "id: ", "me: ", "tasks: ", "__typename: "]),
)


@dataclass
class Draft:
    """One definition while it is drawn, and the fragments it may spread (name: type it is on)."""

    draw: st.DrawFn
    style: Style
    fragments: dict[str, str]
    arguments: dict[tuple[str, str], str]  # the arguments written for each field, by its type
    spread: set[str] = field(default_factory=set)  # the fragments it spreads

    def selection_set(self, type_name: str, depth: int) -> str:
        parts = [self.selection(type_name, depth) for _ in range(self.draw(COUNTS))]
        return "{ " + " ".join(parts) + " }"

    def selection(self, type_name: str, depth: int) -> str:
        draw, careful = self.draw, self.style.careful
        kind = draw(KINDS)
        if kind == "spread":  # up to three times; careless, maybe an unknown or misplaced one
            names = [name for name, on in self.fragments.items() if on == type_name or not careful]
            if names or not careful:
                name = draw(st.sampled_from(names + ([] if careful else ["Nope"])))
                self.spread.add(name)
                return " ".join([f"...{name} {draw(self.style.directives)}"] * draw(COUNTS))
        if kind == "inline" and depth < 3:
            on = draw(st.sampled_from([None, type_name, *([] if careful else [draw(TYPES)])]))
            body = self.selection_set(on or type_name, depth + 1)
            return f"... {f'on {on}' if on else ''} {draw(self.style.directives)} {body}"
        return self.field(type_name, depth)

    def field(self, type_name: str, depth: int) -> str:
        draw, careful = self.draw, self.style.careful
        name = draw(self.style.field_names[type_name])
        spec = fields_of(type_name).get(name)
        alias = draw(self.style.aliases)
        # Careful: an alias names one field only, and a field has one set of arguments per
        # document, so that fields with one response name always merge.
        head = (f"{alias}{name}: " if careful and alias else alias) + name
        if spec is not None and spec.args:
            if not careful or (type_name, name) not in self.arguments:
                self.arguments[type_name, name] = self.written(type_name, name, spec)
            head += self.arguments[type_name, name]
        result = get_named_type(spec.type) if spec is not None else None
        body = ""
        if isinstance(result, GraphQLObjectType):
            if careful or (depth < 4 and draw(TENTHS) > 0):  # careless: a selection missing
                body = self.selection_set(result.name, depth + 1)
        elif not careful and draw(TENTHS) == 0:
            body = "{ id }"  # a selection on a leaf
        return f"{head} {draw(self.style.directives)} {body}"

    def written(self, type_name: str, name: str, spec: GraphQLField) -> str:
        """Careful: the required arguments; careless: a required one missing now and then."""
        draw, careful = self.draw, self.style.careful
        chosen = [
            argument
            for argument, given in spec.args.items()
            if (is_required(given) and (careful or draw(TENTHS) > 0)) or draw(st.booleans())
        ]
        strategies = self.style.arguments
        written = [f"{arg}: {draw(strategies[type_name, name, arg])}" for arg in chosen]
        return f"({', '.join(written)})" if written else ""


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A request body: fragments and operations in any order, an operationName, variables.

    Careful bodies are valid but for values (a wrong user, a title too long), so they run;
    careless ones are anything the contract's names can spell.
    """
    style = draw(st.sampled_from([CAREFUL, CARELESS]))
    careful = style.careful
    names = draw(FRAGMENT_NAMES)
    types = {name: draw(TYPES) for name in names}
    spreads: dict[str, set[str]] = {}
    arguments: dict[tuple[str, str], str] = {}
    definitions: dict[str, str] = {}
    for index, name in enumerate(names):  # careful: spreads of earlier ones only, so no cycle
        visible = {n: types[n] for n in names[: index if careful else None]}
        draft = Draft(draw, style, visible, arguments)
        body = draft.selection_set(types[name], 1)
        on = "" if careful else draw(style.directives)  # a directive here is misplaced
        definitions[name] = f"fragment {name} on {types[name]} {on} {body}"
        spreads[name] = draft.spread
    operations, used = [], set()
    for index in range(1 if careful else draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["query", "mutation", *([] if careful else ["subscription"])]))
        draft = Draft(draw, style, types, arguments)
        body = draft.selection_set(kind.title(), 0)
        used |= draft.spread
        if careful:
            declared = "$flag: Boolean!" if draw(st.booleans()) else ""
            if declared:
                body = f"{{ ... @include(if: $flag) {body} }}"
        else:
            declared = ", ".join(f"${name}: {VARIABLES[name]}" for name in draw(DECLARED))
            body = f"{draw(style.directives)} {body}"
        header = f"{kind} Op{index}" + (f"({declared})" if declared else "")
        shorthand = kind == "query" and not declared and draw(st.booleans())
        operations.append(body if shorthand else f"{header} {body}")
        named = not shorthand
    if careful:  # an unused fragment is an error: keep those the operation reaches
        reached, queue = set(), list(used)
        while queue:
            name = queue.pop()
            if name not in reached:
                reached.add(name)
                queue.extend(spreads[name])
        definitions = {name: text for name, text in definitions.items() if name in reached}
    parts = draw(st.permutations([*operations, *definitions.values()]))
    request: dict[str, Any] = {"query": " ".join(parts)}
    if careful:
        if named and draw(st.booleans()):
            request["operationName"] = "Op0"
        if "$flag" in request["query"]:
            request["variables"] = {"flag": draw(FLAGS)}
    else:
        operation = draw(st.sampled_from([None, "Op0", "Op1", "Nope"]))
        if operation is not None:
            request["operationName"] = operation
        if draw(st.booleans()):
            variables = st.dictionaries(st.sampled_from(sorted(VARIABLES)), json_values, max_size=4)
            request["variables"] = draw(variables)
    return request


@st.composite
def doubling_chains(draw: st.DrawFn) -> dict[str, Any]:
    """Fragments each spreading the one below 2-3 times: few tokens, exponentially many spreads."""
    style = draw(st.sampled_from([CAREFUL, CARELESS]))
    levels = draw(st.integers(5, 40))
    copies = draw(st.integers(2, 3))
    on = draw(st.sampled_from(["Query", "Viewer"]))
    chain = [
        f"fragment D{level} on {on} {{ "
        + f"...D{level - 1} {draw(style.directives)} " * copies
        + "}"
        for level in range(levels, 0, -1)
    ]
    last = f"fragment D0 on {on} {Draft(draw, style, {}, {}).selection_set(on, 1)}"
    spread = f"...D{levels}" if on == "Query" else f"me {{ ...D{levels} }}"
    # Careless, now and then a second D1, closing a cycle through D3 and D2.
    loop = f" fragment D1 on {on} {{ ...D3 }}" if not style.careful and draw(TENTHS) == 0 else ""
    return {"query": f"query {{ {spread} }} {' '.join(chain)} {last}{loop}"}


def tokens(document: str) -> int:
    """How many tokens the server's parser will count (up to a lexical error, if any)."""
    lexer = Lexer(Source(document))
    count = 0
    with contextlib.suppress(GraphQLSyntaxError):
        while lexer.advance().kind != TokenKind.EOF:
            count += 1
    return count


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = draw(st.one_of(documents(), documents(), doubling_chains()))
    assume(tokens(body["query"]) <= MAX_TOKENS)
    return body


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The budget is for the work a document causes, not for a sweep of the test's own heap:
    Hypothesis's allocations make full collections of 100-300 ms land inside a request."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.fixture
async def fuzz_client(make_client: ClientFactory) -> httpx.AsyncClient:
    """One app for every example of the run: building one per example would take most of it."""
    return await make_client()


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=requests(), signed_in=st.booleans(), accept=st.sampled_from([None, "json", "gql"]))
async def test_any_document_is_answered_quickly_with_coded_errors_and_no_server_error(
    fuzz_client: httpx.AsyncClient, body: dict[str, Any], signed_in: bool, accept: str | None
) -> None:
    headers = {"content-type": "application/json"}
    if signed_in:
        headers["authorization"] = f"Bearer {hs256_token(USER, ttl=3600)}"
    if accept is not None:
        headers["accept"] = f"application/{'graphql-response+' if accept == 'gql' else ''}json"
    sent = json.dumps(body)
    note(sent)
    # Past ten budgets the request is interrupted and the test stops at once, naming the body:
    # Hypothesis does not shrink a BaseException, whose every retry could take an hour. A request
    # merely over the budget fails the assertion below and is shrunk.
    with overrun_guard(10 * BUDGET, doing=f"answering {sent}"), collector_paused():
        started = time.perf_counter()
        response = await fuzz_client.post("/graphql", json=body, headers=headers)
        elapsed = time.perf_counter() - started
    assert response.status_code < 500, response.text
    answer = response.json()
    assert isinstance(answer, dict), answer
    assert "data" in answer or answer.get("errors"), answer
    codes = {error["extensions"]["code"] for error in answer.get("errors") or []}
    assert codes <= CODES, answer
    # Tallied by --hypothesis-show-statistics: shows how many examples get as far as running.
    event(f"{response.status_code} {' '.join(sorted(codes)) or 'ok'}")
    assert elapsed < BUDGET, f"{elapsed:.3f} s"
