"""A body over MAX_REQUEST_BYTES is answered 413, and the client reads that answer every time.

A server that closes with the client's bytes unread makes the kernel reset the connection, and
the reset can destroy the 413 before the client reads it. Against a real `taskql serve`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.support.processes import ServerProcess
from tests.support.taskql_serve import taskql_serve

pytestmark = pytest.mark.usefixtures("no_server_errors")
MAX_BYTES = 65_536  # MAX_REQUEST_BYTES's default
ROUNDS = 20


@pytest.fixture(scope="module")
def server(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with taskql_serve(postgres_url, tmp_path_factory.mktemp("body-limit")) as running:
        yield running


@pytest.fixture
async def http(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    # An asyncio client: when its write fails, its transport closes and drops what it had not
    # read yet, so a reset server's 413 is lost (a blocking socket would still read it).
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client


def json_body(size: int) -> bytes:
    """A well-formed GraphQL request of about `size` bytes (the padding is JSON whitespace)."""
    return b'{"query": "{ __typename }"}' + b" " * size


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["connection"] == "close"
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["BAD_REQUEST"]


@pytest.mark.parametrize("size", [1_000_000, 10_000_000], ids=["1MB", "10MB"])
async def test_a_large_json_body_with_content_length_is_answered_413_every_time(
    http: httpx.AsyncClient, size: int
) -> None:
    body = json_body(size)
    for _ in range(ROUNDS):
        response = await http.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
        assert_refused(response)


async def test_a_chunked_body_over_the_limit_is_answered_413_every_time(
    http: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ __typename }"}'
        for _ in range(16):
            yield b" " * MAX_BYTES

    for _ in range(ROUNDS):
        response = await http.post(
            "/graphql", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.request.headers["transfer-encoding"] == "chunked"
        assert_refused(response)


async def test_a_content_length_that_promises_more_than_is_sent_still_gets_its_413(
    server: ServerProcess,
) -> None:
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: taskql.test\r\n"
        b"Content-Type: application/json\r\nContent-Length: 20000000\r\n\r\n"
    )
    for _ in range(ROUNDS):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(head + json_body(8_000_000))  # more than the sockets buffer
            await writer.drain()
            status, body = await read_response(reader)
        finally:
            writer.close()
        assert status == 413
        assert [e["extensions"]["code"] for e in json.loads(body)["errors"]] == ["BAD_REQUEST"]


async def test_a_client_waiting_for_100_continue_is_refused_at_once_without_a_100(
    server: ServerProcess,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        started = time.monotonic()
        writer.write(
            b"POST /graphql HTTP/1.1\r\nHost: taskql.test\r\nExpect: 100-continue\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"
        )
        status, _ = await read_response(reader)
        assert await reader.read() == b""  # closed: nothing was sent, so nothing is waited for
        assert time.monotonic() - started < 1
    finally:
        writer.close()
    assert status == 413


async def test_a_body_within_the_limit_is_still_served(http: httpx.AsyncClient) -> None:
    body = json_body(MAX_BYTES - 100)
    response = await http.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The status and body of the first response on a connection (framed by Content-Length)."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    length = next(int(line.split(":")[1]) for line in head if line.lower().startswith("content-l"))
    return int(head[0].split()[1]), await reader.readexactly(length)
