"""A connection that cannot be established is a 503, whatever the driver says (SPEC §3).

Refused, reset, a server that speaks something else, an unknown role or database, TLS the
server does not offer, a startup parameter a pooler rejects: the database is unusable to us, so
the client is told to retry (and the operator is paged by the 503s), within the bounded time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy import make_url

from tests.support.apps import factory, running_app
from tests.support.graphql import codes
from tests.support.network import free_port
from tests.support.operations import CREATE_TASK, LIST_TASKS
from tests.support.pgbouncer import PgBouncer
from tests.support.tokens import hs256_token

CONNECT_TIMEOUT = 1.5


async def _hang_up(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.transport.abort()  # a reset, as from a proxy or a dying host


async def _speak_http(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    await writer.drain()
    writer.close()


@pytest.fixture
async def fake_server() -> AsyncIterator[Callable[[str], Awaitable[int]]]:
    """`await fake_server("reset" | "http")`: a loopback port that is not PostgreSQL."""
    servers: list[asyncio.Server] = []

    async def start(kind: str) -> int:
        handler = _hang_up if kind == "reset" else _speak_http
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def _url(
    kind: str, postgres_url: str, pgbouncer: PgBouncer, fake: Callable[[str], Awaitable[int]]
) -> str:
    url = make_url(postgres_url)
    if kind == "refused":
        return url.set(port=free_port()).render_as_string(hide_password=False)
    if kind in ("reset", "not PostgreSQL"):
        port = await fake("reset" if kind == "reset" else "http")
        return url.set(port=port).render_as_string(hide_password=False)
    if kind == "unknown role":
        return url.set(username="no_such_role").render_as_string(hide_password=False)
    if kind == "unknown database":
        return url.set(database="no_such_database").render_as_string(hide_password=False)
    if kind == "TLS the server does not offer":
        return url.update_query_dict({"ssl": "require"}).render_as_string(hide_password=False)
    assert kind == "startup parameter refused"
    return pgbouncer.url_for(postgres_url)


@pytest.mark.parametrize(
    "kind",
    [
        "refused",
        "reset",
        "not PostgreSQL",
        "unknown role",
        "unknown database",
        "TLS the server does not offer",
        "startup parameter refused",
    ],
)
@pytest.mark.parametrize("operation", ["read", "write"])
async def test_a_connection_that_cannot_be_established_is_503_in_bounded_time(
    postgres_url: str,
    pgbouncer: PgBouncer,
    fake_server: Callable[[str], Awaitable[int]],
    kind: str,
    operation: str,
) -> None:
    database_url = await _url(kind, postgres_url, pgbouncer, fake_server)
    async with factory(running_app, lambda: database_url) as build:
        taskql = await build(db_connect_timeout_seconds=CONNECT_TIMEOUT)
        document, variables = (
            (LIST_TASKS, {"userId": "alice"})
            if operation == "read"
            else (CREATE_TASK, {"userId": "alice", "input": {"title": "lost?"}})
        )
        began = time.monotonic()
        response = await taskql.query(document, variables, token=hs256_token("alice"))
        elapsed = time.monotonic() - began

    assert response.status_code == 503, response.text
    assert codes(response) == ["SERVICE_UNAVAILABLE"]
    assert response.headers["retry-after"]
    assert elapsed < CONNECT_TIMEOUT + 2
    assert "no_such" not in response.text  # nothing of the driver's message reaches the client
