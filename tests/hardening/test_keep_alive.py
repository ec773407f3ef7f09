"""Idle keep-alive connections: the server outwaits its clients, so it never resets a request.

A server that closes an idle connection just as its client sends the next request on it resets
that request unanswered (seen as httpx ReadErrors under load with uvicorn's 5 s default, which
ties with httpx's own 5 s). The side that closes idle connections must be the client.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

from tests.support.processes import ServerProcess
from tests.support.taskql_serve import taskql_serve
from tests.support.timing import wait_until

CLIENT_IDLE_SECONDS = 5.0  # httpx's keepalive_expiry, and the longest the common clients wait


def connect(server: ServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


def health(sock: socket.socket) -> bytes:
    """One GET /healthz on this connection; the response's status line."""
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: taskql.test\r\n\r\n")
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(4096)
        assert chunk, "the server closed the connection instead of answering"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += sock.recv(4096)
    return head.split(b"\r\n")[0]


def closed_by_server(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    finally:
        sock.setblocking(True)


def test_an_idle_connection_outlives_the_clients_idle_timeout_and_still_answers(
    live: ServerProcess,
) -> None:
    with connect(live) as sock:
        assert health(sock) == b"HTTP/1.1 200 OK"
        time.sleep(CLIENT_IDLE_SECONDS + 1)  # on purpose: idle longer than a client would
        assert not closed_by_server(sock)
        assert health(sock) == b"HTTP/1.1 200 OK"


def test_http_keepalive_seconds_sets_when_the_server_drops_an_idle_connection(
    postgres_url: str, tmp_path: Path
) -> None:
    settings = {"HTTP_KEEPALIVE_SECONDS": "1"}
    with taskql_serve(postgres_url, tmp_path, **settings) as server, connect(server) as sock:
        assert health(sock) == b"HTTP/1.1 200 OK"
        wait_until(lambda: closed_by_server(sock), within=5, message="the connection stayed open")
