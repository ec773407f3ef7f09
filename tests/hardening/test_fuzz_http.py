"""What a client controls, raw: any POST body, any GET query string, any headers we read.

Whatever arrives, the answer is the contract's: never a 5xx, always a GraphQL-shaped JSON body
whose every error has a code, and in bounded time. The schemathesis run only sends well-formed
operations; these send anything.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.apps import ClientFactory
from tests.support.strategies import any_json
from tests.support.tokens import hs256_token

BUDGET_SECONDS = 1.0  # per request, on a loaded 2-core CI machine
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = any_json(text=20, keys=10, items=4, leaves=12, nan=False)
queries = st.sampled_from(
    [
        "{ __typename }",
        'query { tasks(userId: "u") { total } }',
        'mutation { createTask(userId: "u", input: {title: "t"}) { id } }',
        'subscription { taskEvents(userId: "u") { type } }',
        "query A { __typename } query B { __typename }",
        "{",
        "",
    ]
) | st.text(max_size=40)
members = st.fixed_dictionaries(
    {},
    optional={
        "query": queries | json_values,
        "variables": json_values,
        "operationName": st.sampled_from(["A", "B", ""]) | json_values,
        "extensions": json_values,
    },
)


def encode(value: object) -> bytes:
    # The stdlib encoder writes what orjson refuses: integers past 64 bits, Infinity.
    return json.dumps(value).encode()


bodies = (
    st.binary(max_size=200)
    | json_values.map(encode)
    | members.map(encode)
    | st.lists(members, max_size=3).map(encode)
)
content_types = st.sampled_from(
    ["application/json", "Application/JSON; charset=utf-8", "text/plain", "", "application/graphql"]
)
tokens = st.sampled_from([None, "good", "Bearer nonsense", "Basic abc", ""])
param_values = st.text(max_size=40) | json_values.map(json.dumps)
query_strings = st.dictionaries(
    st.sampled_from(["query", "variables", "operationName", "extensions", "other"]),
    param_values | queries,
    max_size=4,
)


@pytest.fixture
async def fuzz_client(make_client: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    yield await make_client()


def authorization(choice: str | None) -> dict[str, str]:
    if choice is None:
        return {}
    if choice == "good":
        return {"authorization": f"Bearer {hs256_token('u')}"}
    return {"authorization": choice}


def assert_contract_answer(response: httpx.Response, elapsed: float) -> None:
    assert response.status_code < 500, response.text
    assert elapsed < BUDGET_SECONDS, f"{elapsed:.2f}s"
    body: Any = response.json()
    items = body if isinstance(body, list) else [body]
    for item in items:
        assert isinstance(item, dict)
        for error in item.get("errors", []):
            assert error["extensions"]["code"], error


@FUZZ
@given(body=bodies, content_type=content_types, token=tokens)
async def test_any_post_body_gets_a_coded_answer_and_never_a_5xx(
    fuzz_client: httpx.AsyncClient, body: bytes, content_type: str, token: str | None
) -> None:
    headers = {"content-type": content_type, **authorization(token)}
    started = time.perf_counter()
    response = await fuzz_client.post("/graphql", content=body, headers=headers)
    assert_contract_answer(response, time.perf_counter() - started)


@FUZZ
@given(params=query_strings, token=tokens, accept=st.sampled_from(["", "*/*", "text/html"]))
async def test_any_get_query_string_gets_a_coded_answer_and_never_a_5xx(
    fuzz_client: httpx.AsyncClient, params: dict[str, str], token: str | None, accept: str
) -> None:
    headers = {"accept": accept, **authorization(token)} if accept else authorization(token)
    started = time.perf_counter()
    response = await fuzz_client.get("/graphql", params=params, headers=headers)
    if response.headers["content-type"].startswith("text/html"):
        assert response.status_code == 200  # GraphiQL, asked for by a browser
        return
    assert_contract_answer(response, time.perf_counter() - started)
