"""Fair use (SPEC §8): per-user, per-mutation and per-IP limits, 429 with the IETF headers, shared
across replicas through Redis, and serving on when Redis is away."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from schema.rate_limits import REDIS_TIMEOUT
from tests.support.apps import ClientFactory
from tests.support.graphql import codes, gql
from tests.support.network import free_port
from tests.support.operations import CREATE_TASK
from tests.support.timing import wait_until
from tests.support.tokens import hs256_token

ME = "query Me { me { id } }"


async def me(client: httpx.AsyncClient, user: str, **headers: str) -> httpx.Response:
    return await gql(client, ME, token=hs256_token(user), headers=headers or None)


async def create(client: httpx.AsyncClient, user: str) -> httpx.Response:
    variables = {"userId": user, "input": {"title": "a task"}}
    return await gql(client, CREATE_TASK, variables, token=hs256_token(user))


def assert_limited(response: httpx.Response, limit: str) -> None:
    assert response.status_code == 429, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["limit"] == limit
    assert response.json().get("data") is None  # refused whole: nothing was executed
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert response.headers["ratelimit-policy"].startswith(f'"{limit}";q=')
    assert response.headers["ratelimit"] == f'"{limit}";r=0;t={retry_after}'


async def test_a_burst_over_the_user_limit_is_429_and_another_user_is_unaffected(
    make_client: ClientFactory,
) -> None:
    client = await make_client(rate_limit="3/minute")
    assert [(await me(client, "alice")).status_code for _ in range(3)] == [200, 200, 200]
    assert_limited(await me(client, "alice"), "operations")
    assert (await me(client, "bob")).status_code == 200


async def test_after_retry_after_the_user_is_served_again(make_client: ClientFactory) -> None:
    client = await make_client(rate_limit="2/second")
    await me(client, "alice")
    await me(client, "alice")
    refused = await me(client, "alice")
    assert_limited(refused, "operations")
    await asyncio.sleep(int(refused.headers["retry-after"]))  # the window must pass, on purpose
    assert (await me(client, "alice")).status_code == 200


async def test_mutations_have_a_budget_of_their_own_and_no_resolver_runs_past_it(
    make_client: ClientFactory,
) -> None:
    client = await make_client(rate_limit="100/minute", rate_limit_mutations="2/minute")
    assert [(await create(client, "alice")).status_code for _ in range(2)] == [200, 200]
    assert_limited(await create(client, "alice"), "mutations")
    assert (await me(client, "alice")).status_code == 200  # queries go on
    page = await gql(
        client, 'query { tasks(userId: "alice") { total } }', token=hs256_token("alice")
    )
    assert page.json()["data"]["tasks"]["total"] == 2


async def test_without_a_trusted_proxy_x_forwarded_for_changes_nothing(
    make_client: ClientFactory,
) -> None:
    client = await make_client(rate_limit_anonymous="2/minute")
    for spoofed in ("203.0.113.1", "203.0.113.2"):
        response = await gql(client, "{ __typename }", headers={"x-forwarded-for": spoofed})
        assert response.status_code == 200
    refused = await gql(client, "{ __typename }", headers={"x-forwarded-for": "203.0.113.3"})
    assert_limited(refused, "anonymous")


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(
    make_client: ClientFactory,
) -> None:
    # httpx's ASGI transport connects from 127.0.0.1: the proxy, here.
    client = await make_client(rate_limit_anonymous="1/minute", trusted_proxies="127.0.0.1")

    async def anonymous(forwarded: str) -> int:
        response = await gql(client, "{ __typename }", headers={"x-forwarded-for": forwarded})
        return response.status_code

    assert await anonymous("198.51.100.7") == 200
    assert await anonymous("198.51.100.8") == 200
    assert await anonymous("198.51.100.7") == 429
    # The client may write the left of the header; the right-most untrusted hop is its address.
    assert await anonymous("198.51.100.9, 198.51.100.8") == 429


async def test_the_metrics_count_limited_requests_by_limit(make_client: ClientFactory) -> None:
    client = await make_client(rate_limit="1/minute")
    await me(client, "alice")
    await me(client, "alice")
    metrics = (await client.get("/metrics")).text
    assert 'taskql_rate_limited_total{limit="operations"} 1.0' in metrics


# Redis: a real server of this test's own, on a loopback port.


@contextlib.contextmanager
def redis_server(tmp_path: Path, port: int) -> Iterator[redis.Redis]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    executable = shutil.which("redis-server")
    assert executable, "redis-server is missing: `make test` installs it (scripts/test-setup.sh)"
    process = subprocess.Popen(
        [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
         "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
    try:
        wait_until(lambda: _pings(client), within=10, message="redis-server did not start")
        yield client
    finally:
        process.terminate()
        process.wait(timeout=10)
        client.close()


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture
def redis_port(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    with redis_server(tmp_path, port):
        yield port


@pytest.fixture
async def replicas(
    make_client: ClientFactory, redis_port: int
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Two taskql apps (two limiters) counting in one Redis."""
    storage = f"redis://127.0.0.1:{redis_port}/0"
    one = await make_client(rate_limit="10/minute", rate_limit_storage=storage)
    two = await make_client(rate_limit="10/minute", rate_limit_storage=storage)
    yield one, two


async def test_two_replicas_with_redis_share_one_budget(
    replicas: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    one, two = replicas
    statuses = [(await me(client, "alice")).status_code for client in (one, two) * 8]
    assert statuses.count(200) == 10  # the sum over both is the limit
    assert statuses.count(429) == 6
    assert (await me(two, "bob")).status_code == 200


async def test_redis_stopped_mid_run_serves_then_counts_again_once_it_is_back(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    port = free_port()
    storage = f"redis://127.0.0.1:{port}/0"
    client = await make_client(rate_limit="3/minute", rate_limit_storage=storage)
    with redis_server(tmp_path / "first", port):
        assert (await me(client, "alice")).status_code == 200
    # Redis is gone: no 5xx, and nobody is refused for it.
    during = [(await me(client, "alice")).status_code for _ in range(6)]
    assert during == [200] * 6
    metrics = (await client.get("/metrics")).text
    assert "taskql_rate_limit_storage_errors_total 6.0" in metrics
    with redis_server(tmp_path / "second", port):  # back, empty: counting starts again
        after = [(await me(client, "alice")).status_code for _ in range(4)]
    assert after == [200, 200, 200, 429]
    assert codes(await me(client, "bob")) == []  # Redis gone again: still served


async def test_a_redis_that_hangs_costs_a_bounded_wait_and_the_request_is_served(
    make_client: ClientFactory,
) -> None:
    """A listening socket that never answers: each check gives up after REDIS_TIMEOUT."""
    with socket.socket() as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(0)
        port = black_hole.getsockname()[1]
        client = await make_client(
            rate_limit="3/minute", rate_limit_storage=f"redis://127.0.0.1:{port}/0"
        )
        started = time.perf_counter()
        response = await me(client, "alice")
        elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert REDIS_TIMEOUT <= elapsed < REDIS_TIMEOUT + 1.0
