"""Slow and silent clients: a request's head and body must keep coming, or the server hangs up.

Raw sockets against a real `taskql serve`, with both read timeouts set to one second.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.apps import make_settings
from tests.support.databases import sqlite_url
from tests.support.graphql import Tasks
from tests.support.processes import ServerProcess
from tests.support.taskql_serve import taskql_serve
from tests.support.tokens import hs256_token
from tests.support.websocket import ws_client

pytestmark = pytest.mark.usefixtures("no_server_errors")
TIMEOUT = 1.0  # HTTP_HEADER_TIMEOUT_SECONDS and HTTP_BODY_TIMEOUT_SECONDS
MARGIN = 2.0
TYPENAME = b'{"query": "{ __typename }"}'


@pytest.fixture(scope="module")
def server(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with taskql_serve(
        postgres_url,
        tmp_path_factory.mktemp("slow-clients"),
        HTTP_HEADER_TIMEOUT_SECONDS=str(TIMEOUT),
        HTTP_BODY_TIMEOUT_SECONDS=str(TIMEOUT),
    ) as running:
        yield running


def connect(server: ServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


def until_closed(sock: socket.socket, within: float) -> bytes:
    """Everything the server sends until it closes the connection, which must be soon."""
    received = b""
    deadline = time.monotonic() + within
    while True:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            raise AssertionError(f"still open after {within} s; received {received!r}") from None
        if not chunk:
            return received
        received += chunk


def response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and body of the one HTTP response in `raw`."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines)
    return int(status_line.split()[1]), headers, body


def healthz(sock: socket.socket) -> int:
    """One GET /healthz on a kept-alive connection; its status, once the whole answer is in."""
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: taskql.test\r\n\r\n")
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    status, headers, body = response(received)
    while len(body) < int(headers["content-length"]):
        body += sock.recv(65536)
    return status


def assert_timed_out(raw: bytes) -> None:
    status, headers, body = response(raw)
    assert status == 408, raw
    assert headers["connection"] == "close"
    assert headers["content-type"] == "application/json"
    assert [error["extensions"]["code"] for error in json.loads(body)["errors"]] == ["BAD_REQUEST"]


def post_head(length: int) -> bytes:
    return (
        b"POST /graphql HTTP/1.1\r\nHost: taskql.test\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % length
    )


def test_a_connection_that_never_sends_a_byte_is_closed_quietly_after_the_header_timeout(
    server: ServerProcess,
) -> None:
    with connect(server) as sock:
        opened = time.monotonic()
        assert until_closed(sock, TIMEOUT + MARGIN) == b""
        assert time.monotonic() - opened > TIMEOUT * 0.8


def test_half_a_request_line_is_answered_408_and_closed(server: ServerProcess) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /heal")
        assert_timed_out(until_closed(sock, TIMEOUT + MARGIN))


def test_a_head_without_its_blank_line_is_answered_408_and_closed(server: ServerProcess) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: taskql.test\r\n")
        assert_timed_out(until_closed(sock, TIMEOUT + MARGIN))


def test_a_declared_body_that_never_comes_is_answered_408_and_closed(server: ServerProcess) -> None:
    with connect(server) as sock:
        sock.sendall(post_head(100))
        assert_timed_out(until_closed(sock, TIMEOUT + MARGIN))


def test_a_body_that_stops_halfway_is_answered_408_and_closed(server: ServerProcess) -> None:
    with connect(server) as sock:
        sock.sendall(post_head(len(TYPENAME)) + TYPENAME[:10])
        assert_timed_out(until_closed(sock, TIMEOUT + MARGIN))


def test_a_slow_but_steady_body_is_answered_not_cut_off(server: ServerProcess) -> None:
    body = TYPENAME + b" " * 20
    pieces = [body[start : start + 8] for start in range(0, len(body), 8)]
    with connect(server) as sock:
        sock.sendall(post_head(len(body)))
        started = time.monotonic()
        for piece in pieces:  # each pause is under the timeout; all of them are well over it
            time.sleep(TIMEOUT * 0.4)
            sock.sendall(piece)
        assert time.monotonic() - started > TIMEOUT * 2
        sock.shutdown(socket.SHUT_WR)
        status, _, answer = response(until_closed(sock, MARGIN))
    assert status == 200
    assert json.loads(answer) == {"data": {"__typename": "Query"}}


def test_a_head_sent_slowly_but_within_the_timeout_is_answered(server: ServerProcess) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: taskql.test\r\nConnection: close\r\n\r\n"
    with connect(server) as sock:
        for start in range(0, len(head), len(head) // 3 + 1):
            sock.sendall(head[start : start + len(head) // 3 + 1])
            time.sleep(TIMEOUT * 0.2)  # on purpose: a slow client, within the timeout
        status, _, _ = response(until_closed(sock, MARGIN))
    assert status == 200


def test_an_idle_kept_alive_connection_is_kept_and_its_next_head_is_timed(
    server: ServerProcess,
) -> None:
    with connect(server) as sock:
        assert healthz(sock) == 200
        time.sleep(TIMEOUT * 1.5)  # idle between requests: keep-alive's time, not the head's
        assert healthz(sock) == 200
        sock.sendall(b"GET /heal")
        assert_timed_out(until_closed(sock, TIMEOUT + MARGIN))


async def test_a_websocket_subscription_outlives_the_header_timeout(server: ServerProcess) -> None:
    token = hs256_token("slow-socket")
    url = f"ws://127.0.0.1:{server.port}/graphql"
    async with ws_client(url) as client, httpx.AsyncClient(base_url=server.url) as http:
        assert await client.init({"Authorization": f"Bearer {token}"}) == {"type": "connection_ack"}
        await client.subscribe("slow-socket")
        await asyncio.sleep(TIMEOUT * 2.5)  # on purpose: well past the header timeout
        await client.send({"type": "ping"})
        assert await client.receive() == {"type": "pong"}
        task = await Tasks(http, token, "slow-socket").create("after the header timeout")
        event = await client.event()
    assert (event["type"], event["taskId"]) == ("CREATED", task["id"])


def test_the_header_and_body_timeouts_are_settings(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "t.db")
    settings = make_settings(url, http_header_timeout_seconds=2.5, http_body_timeout_seconds=4)
    assert (settings.http_header_timeout_seconds, settings.http_body_timeout_seconds) == (2.5, 4)
    with pytest.raises(ValueError, match="greater than 0"):
        make_settings(url, http_header_timeout_seconds=0)
