"""Idempotency-Key (SPEC §8) over HTTP, on SQLite and PostgreSQL: a mutation sent twice with one
key runs once, and every repeat gets the first response, byte for byte."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest

import resolvers.idempotency
from db.models import utcnow
from resolvers.idempotency import KeyStore
from taskql.http.idempotency import fingerprint_of
from tests.support.apps import AppFactory, make_settings, running_app
from tests.support.graphql import codes
from tests.support.operations import CREATE_TASK, LIST_TASKS, TOGGLE_TASK
from tests.support.rows import engine_for, insert_key, keys_of, tasks_of, update_keys
from tests.support.timing import eventually
from tests.support.tokens import hs256_token

IN_USE_RETRIES = 200


def body_of(query: str, user: str, **variables: Any) -> bytes:
    return orjson.dumps({"query": query, "variables": {"userId": user, **variables}})


async def send(
    client: httpx.AsyncClient,
    user: str,
    body: bytes,
    key: str | None,
    *more: tuple[str | bytes, str | bytes],
) -> httpx.Response:
    headers: list[tuple[str | bytes, str | bytes]] = [
        ("content-type", "application/json"),
        ("authorization", f"Bearer {hs256_token(user)}"),
        *([("idempotency-key", key)] if key is not None else []),
        *more,
    ]
    return await client.post("/graphql", content=body, headers=headers)


async def create(
    client: httpx.AsyncClient, user: str, key: str | None, title: str = "Buy milk"
) -> httpx.Response:
    return await send(client, user, body_of(CREATE_TASK, user, input={"title": title}), key)


async def until_not_in_use(attempt: Any) -> httpx.Response:
    """What a well-behaved client does with 409 IN_USE: wait (Retry-After) and retry."""
    for _ in range(IN_USE_RETRIES):
        response: httpx.Response = await attempt()
        if codes(response) != ["IDEMPOTENCY_KEY_IN_USE"]:
            return response
        assert response.status_code == 409
        assert response.headers["retry-after"] == "1"
        await asyncio.sleep(0.02)  # a test need not wait the whole second
    raise AssertionError("the key stayed in use")


@pytest.fixture
def user() -> str:
    return f"idem-{uuid.uuid4().hex[:8]}"


async def test_a_repeat_is_answered_with_the_first_response_byte_for_byte(
    client: httpx.AsyncClient, database_url: str, user: str
) -> None:
    first = await create(client, user, "order-1")
    again = await create(client, user, "order-1")
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert len(await tasks_of(database_url, user)) == 1


async def test_twenty_concurrent_creates_with_one_key_make_one_task(
    client: httpx.AsyncClient, database_url: str, user: str
) -> None:
    responses = await asyncio.gather(
        *(until_not_in_use(lambda: create(client, user, "double-tap")) for _ in range(20))
    )
    assert {response.status_code for response in responses} == {200}
    assert len({response.content for response in responses}) == 1
    [row] = await tasks_of(database_url, user)
    assert responses[0].json()["data"]["createTask"]["id"] == str(row["id"])


async def test_replicas_on_one_postgresql_share_the_keys(clean_postgres: str, user: str) -> None:
    settings = make_settings(clean_postgres)
    async with running_app(settings) as one, running_app(settings) as two:
        clients = [one.client, two.client] * 10
        responses = await asyncio.gather(
            *(until_not_in_use(lambda c=c: create(c, user, "both")) for c in clients)
        )
    assert len({response.content for response in responses}) == 1
    assert len(await tasks_of(clean_postgres, user)) == 1


async def test_the_same_key_with_other_variables_is_422_and_runs_nothing(
    client: httpx.AsyncClient, database_url: str, user: str
) -> None:
    assert (await create(client, user, "k", title="Buy milk")).status_code == 200
    other = await create(client, user, "k", title="Buy bread")
    assert other.status_code == 422
    assert codes(other) == ["IDEMPOTENCY_KEY_REUSED"]
    assert [row["title"] for row in await tasks_of(database_url, user)] == ["Buy milk"]


async def test_the_same_operation_written_differently_is_the_same_request(
    client: httpx.AsyncClient, user: str
) -> None:
    first = await create(client, user, "k")
    # Whitespace, commas and comments are not the request; key order in JSON is not either.
    rewritten = "# the same\n" + " ,\n ".join(CREATE_TASK.split())
    body = orjson.dumps(
        {"variables": {"input": {"title": "Buy milk"}, "userId": user}, "query": rewritten}
    )
    again = await send(client, user, body, "k")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content


async def test_keys_are_per_user(client: httpx.AsyncClient, database_url: str, user: str) -> None:
    other = f"{user}-other"
    mine, theirs = await create(client, user, "shared"), await create(client, other, "shared")
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json()["data"]["createTask"]["id"] != theirs.json()["data"]["createTask"]["id"]
    assert len(await tasks_of(database_url, user)) == len(await tasks_of(database_url, other)) == 1


@pytest.mark.parametrize(
    "keys",
    [[b""], [b"x" * 256], ["café".encode()], [b"tab\there"], [b"one", b"two"]],
    ids=["empty", "too-long", "not-ascii", "control", "twice"],
)
async def test_a_malformed_key_on_a_mutation_is_400_and_runs_nothing(
    client: httpx.AsyncClient, database_url: str, user: str, keys: list[bytes]
) -> None:
    body = body_of(CREATE_TASK, user, input={"title": "x"})
    response = await send(client, user, body, None, *[(b"idempotency-key", key) for key in keys])
    assert response.status_code == 400, response.text
    assert codes(response) == ["BAD_REQUEST"]
    assert "Idempotency-Key" in response.json()["errors"][0]["message"]
    assert await tasks_of(database_url, user) == []


async def test_the_longest_key_is_fine(client: httpx.AsyncClient, user: str) -> None:
    assert (await create(client, user, "~" * 255)).status_code == 200


async def test_queries_ignore_the_header_even_a_malformed_one(
    client: httpx.AsyncClient, database_url: str, user: str
) -> None:
    body = body_of(LIST_TASKS, user)
    response = await send(client, user, body, "", ("idempotency-key", "again"))
    assert response.status_code == 200, response.text
    assert "idempotent-replayed" not in response.headers
    assert await keys_of(database_url, user) == []


async def test_an_answer_with_errors_is_stored_too(
    client: httpx.AsyncClient, database_url: str, user: str
) -> None:
    body = body_of(TOGGLE_TASK, user, id="999")
    first = await send(client, user, body, "missing")
    assert codes(first) == ["NOT_FOUND"]
    await create(client, user, None)  # the world changes; the key's answer does not
    again = await send(client, user, body, "missing")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content


async def test_a_claim_held_by_a_running_request_is_409_then_taken_over_once_dead(
    client: httpx.AsyncClient, database_url: str, user: str
) -> None:
    body = body_of(CREATE_TASK, user, input={"title": "Buy milk"})
    # As a replica leaves it when it has claimed the key and not yet committed (or crashed).
    await insert_key(
        database_url,
        user_id=user,
        key="k",
        fingerprint=fingerprint_of(body, 1000),
        claim="a" * 32,
        expires_at=utcnow() + timedelta(seconds=resolvers.idempotency.CLAIM_SECONDS),
    )
    busy = await send(client, user, body, "k")
    assert busy.status_code == 409
    assert codes(busy) == ["IDEMPOTENCY_KEY_IN_USE"]
    assert busy.headers["retry-after"] == "1"
    assert await tasks_of(database_url, user) == []

    await update_keys(database_url, user, expires_at=utcnow() - timedelta(seconds=1))
    taken = await send(client, user, body, "k")
    assert taken.status_code == 200
    again = await send(client, user, body, "k")
    assert again.content == taken.content
    assert len(await tasks_of(database_url, user)) == 1


async def test_a_response_past_its_ttl_no_longer_answers_for_the_key(
    client: httpx.AsyncClient, database_url: str, user: str
) -> None:
    await create(client, user, "k", title="Buy milk")
    await update_keys(database_url, user, expires_at=utcnow() - timedelta(seconds=1))
    later = await create(client, user, "k", title="Buy bread")  # reusable, even for another
    assert later.status_code == 200
    assert "idempotent-replayed" not in later.headers
    assert len(await tasks_of(database_url, user)) == 2


async def test_a_request_refused_before_it_ran_gives_its_key_up(
    build_app: AppFactory, sqlite_url: str, user: str
) -> None:
    app = await build_app(rate_limit_mutations="1/minute")
    assert (await create(app.client, user, "first")).status_code == 200
    limited = await create(app.client, user, "second")
    assert limited.status_code == 429
    assert [row["key"] for row in await keys_of(sqlite_url, user)] == ["first"]


async def test_expired_keys_are_swept_in_the_background(
    build_app: AppFactory, sqlite_url: str, user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resolvers.idempotency, "SWEEP_SECONDS", 0.05)
    app = await build_app()
    await create(app.client, user, "old")
    await create(app.client, user, "new")
    await update_keys(sqlite_url, user, expires_at=utcnow() - timedelta(seconds=1))
    await create(app.client, user, "newest")

    async def swept() -> bool:
        return [row["key"] for row in await keys_of(sqlite_url, user)] == ["newest"]

    await eventually(swept, within=10, message="expired keys were never swept")


async def test_a_sweep_deletes_expired_keys_a_batch_at_a_time_and_keeps_the_rest(
    database_url: str, user: str
) -> None:
    now = utcnow()
    for number in range(25):
        await insert_key(database_url, user_id=user, key=f"old-{number}", fingerprint="f",
                         claim="c", expires_at=now - timedelta(seconds=1), status=200)  # fmt: skip
    await insert_key(database_url, user_id=user, key="running", fingerprint="f", claim="c",
                     expires_at=now + timedelta(seconds=60))  # fmt: skip
    await insert_key(database_url, user_id=user, key="kept", fingerprint="f", claim="c",
                     expires_at=now + timedelta(days=1), status=200)  # fmt: skip
    async with engine_for(database_url) as engine:
        assert await KeyStore(engine, 86400).purge_expired(now, batch=10) == 25
    assert sorted(row["key"] for row in await keys_of(database_url, user)) == ["kept", "running"]


async def test_browsers_may_send_the_key_and_read_whether_it_was_replayed(
    build_app: AppFactory,
) -> None:
    client = (await build_app()).client
    origin = {"origin": "http://localhost:3000"}
    preflight = await client.options(
        "/graphql",
        headers={**origin, "access-control-request-method": "POST",
                 "access-control-request-headers": "authorization, content-type, idempotency-key"},
    )  # fmt: skip
    assert preflight.status_code == 200
    assert "idempotency-key" in preflight.headers["access-control-allow-headers"].lower()
    answer = await client.post("/graphql", json={"query": "{ __typename }"}, headers=origin)
    assert "idempotent-replayed" in answer.headers["access-control-expose-headers"].lower()
