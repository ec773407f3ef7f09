"""Validation costs what the document weighs: a fragment spread many times is measured once.

Fragments that each spread the one below twice ask for 2**levels copies of the last in about 40
bytes a level; rules that walked every spread held the event loop for hours at 30 levels.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.support.apps import ClientFactory
from tests.support.graphql import codes, gql, limit_of
from tests.support.timing import overrun_guard
from tests.support.tokens import hs256_token

BOUND = 1.0  # seconds; the work is milliseconds, the bound leaves room for a busy CI machine


def doubling(levels: int, *, on: str = "Query", last: str = "__typename", root: str = "") -> str:
    """`{root { ...F<levels> }}`, each fragment spreading the one below twice, down to `last`."""
    chain = " ".join(
        f"fragment F{level} on {on} {{ ...F{level - 1} ...F{level - 1} }}"
        for level in range(levels, 0, -1)
    )
    selection = f"{root} {{ ...F{levels} }}" if root else f"...F{levels}"
    return f"query {{ {selection} }} {chain} fragment F0 on {on} {{ {last} }}"


async def answered_within_bound(client: httpx.AsyncClient, query: str) -> httpx.Response:
    """The answer to `query`, which must come within BOUND (it is cut off at five times that)."""
    with overrun_guard(5 * BOUND):
        started = time.perf_counter()
        response = await gql(client, query)
        elapsed = time.perf_counter() - started
    assert elapsed < BOUND
    return response


async def test_thirty_levels_of_doubled_fragments_are_answered_within_a_second_without_a_token(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    response = await answered_within_bound(client, doubling(30))
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_healthz_answers_while_a_doubled_fragment_document_is_in_flight(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    with overrun_guard(5 * BOUND):
        started = time.perf_counter()
        heavy = asyncio.create_task(gql(client, doubling(20)))
        health = await client.get("/healthz")
        answered_after = time.perf_counter() - started
        await heavy
    assert health.status_code == 200
    assert answered_after < BOUND
    assert heavy.result().status_code == 200


async def test_doubled_fragments_within_the_limits_run_and_return_the_data(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    query = doubling(30, on="TaskConnection", last="total", root='tasks(userId: "u")')
    with overrun_guard(5 * BOUND):
        response = await gql(client, query, token=hs256_token("u"))
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"tasks": {"total": 0}}}


async def test_depth_counts_through_doubled_fragments(make_client: ClientFactory) -> None:
    client = await make_client(graphql_max_depth=1)
    query = doubling(30, on="TaskConnection", last="items { id }", root='tasks(userId: "u")')
    with overrun_guard(5 * BOUND):
        response = await gql(client, query, token=hs256_token("u"))
    assert limit_of(response) == "depth"
    assert response.json()["errors"][0]["message"] == (
        "'anonymous' exceeds maximum operation depth of 1"
    )


@pytest.mark.parametrize(
    ("levels", "status"),
    [pytest.param(4, 200, id="16 aliases pass"), pytest.param(5, 400, id="32 are refused")],
)
async def test_an_alias_counts_once_for_every_spread_that_reaches_it(
    make_client: ClientFactory, levels: int, status: int
) -> None:
    client = await make_client(graphql_max_aliases=20)
    response = await gql(client, doubling(levels, last="a: __typename"))
    assert response.status_code == status, response.text
    if status == 400:
        assert limit_of(response) == "aliases"
        assert response.json()["errors"][0]["message"] == "32 aliases found. Allowed: 20"


async def test_a_billion_aliases_through_thirty_doubled_levels_are_refused_at_once(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    response = await answered_within_bound(client, doubling(30, last="a: __typename"))
    assert limit_of(response) == "aliases"
    assert response.json()["errors"][0]["message"] == f"{2**30} aliases found. Allowed: 20"


async def test_a_document_too_deep_in_many_places_is_one_coded_400(
    make_client: ClientFactory,
) -> None:
    """Strawberry's rule reported each too-deep field: past graphql-core's 100 errors the abort
    escaped validation and left as a 200 whose error had no code."""
    client = await make_client(graphql_max_depth=1)
    fields = " ".join(["id"] * 150)
    query = f'query Wide {{ tasks(userId: "u") {{ items {{ {fields} }} }} }}'
    response = await gql(client, query, token=hs256_token("u"))
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {error["extensions"]["code"] for error in errors} == {"BAD_REQUEST"}
    # 150 same-named fields also spend graphql-core's merge budget (test_merge_cost.py).
    assert {error["extensions"]["limit"] for error in errors} <= {"depth", "complexity"}
    depth = [error["message"] for error in errors if error["extensions"]["limit"] == "depth"]
    assert depth == ["'Wide' exceeds maximum operation depth of 1"]


@pytest.mark.parametrize(
    "query",
    [
        pytest.param(
            "query { ...A } fragment A on Query { ...B ...B } fragment B on Query { ...A }",
            id="a cycle",
        ),
        pytest.param("query { ...A } fragment A on Query { ...A ...A }", id="a self spread"),
        pytest.param("query { ...A } fragment A on Query { ...Nope ...Nope }", id="unknown"),
    ],
)
async def test_cyclic_and_unknown_fragments_are_validation_errors_found_at_once(
    make_client: ClientFactory, query: str
) -> None:
    client = await make_client()
    with overrun_guard(5 * BOUND):
        response = await gql(client, query, headers={"accept": "application/graphql-response+json"})
    assert response.status_code == 400
    assert set(codes(response)) == {"GRAPHQL_VALIDATION_FAILED"}
