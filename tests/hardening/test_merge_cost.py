"""graphql-core's check that same-named fields merge is quadratic in them; its budget is ours.

240 `me { id }` fit under the token limit and cost 0.3 s of the event loop with graphql-core's
default budget; taskql's lower budget refuses such a document in milliseconds, as a limit.
"""

from __future__ import annotations

import time

import pytest
from graphql import get_introspection_query

from tests.support.apps import ClientFactory
from tests.support.graphql import gql, limit_of
from tests.support.tokens import hs256_token

BOUND = 1.0  # seconds: milliseconds of work, with room for a busy CI machine (0.69 s seen)


@pytest.mark.parametrize(
    ("selection", "times"),
    [("me { id }", 240), ("me { id id id }", 100), ('tasks(userId: "u") { total }', 100)],
)
async def test_many_same_named_fields_are_refused_quickly_as_a_complexity_limit(
    make_client: ClientFactory, selection: str, times: int
) -> None:
    client = await make_client()
    document = "{ " + " ".join([selection] * times) + " }"
    await gql(client, "{ __typename }")  # warm: the first request pays for imports
    started = time.perf_counter()
    response = await gql(client, document, headers={"accept": "application/json"})
    elapsed = time.perf_counter() - started
    assert response.status_code == 400
    assert limit_of(response) == "complexity"
    assert elapsed < BOUND


async def test_graphiqls_whole_introspection_query_stays_well_within_the_budget(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    response = await gql(client, query)
    assert response.status_code == 200
    assert response.json()["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_a_front_end_page_with_repeated_fields_through_fragments_still_runs(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    document = """
    query Page { tasks(userId: "u") { ...A ...B items { id title } } }
    fragment A on TaskConnection { total items { id completed } }
    fragment B on TaskConnection { total items { id title updatedAt } pageInfo { endCursor } }
    """
    response = await gql(client, document, token=hs256_token("u"))
    assert response.status_code == 200
    assert response.json()["data"]["tasks"]["total"] == 0
