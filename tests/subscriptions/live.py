"""A real taskql server on loopback for WebSocket tests, and a small graphql-transport-ws client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin, Subprotocol

from resolvers.events import EventHub
from taskql.app import create_app
from taskql.settings import Settings
from tests.taskql.operations import CREATE, DELETE, TOGGLE, UPDATE

PROTOCOL = Subprotocol("graphql-transport-ws")
TASK_EVENTS = """subscription($userId: ID!) {
  taskEvents(userId: $userId) { type taskId task { id userId title description completed } } }"""
TIMEOUT = 5.0


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # Ctrl-C stays pytest's
        yield


@dataclass
class LiveServer:
    app: FastAPI
    port: int

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def events(self) -> EventHub:
        hub: EventHub = self.app.state.services.events
        return hub

    async def subscribers(self, user_id: str, count: int = 1) -> None:
        """Wait until `count` subscriptions of the user are live in this process."""
        deadline = time.monotonic() + TIMEOUT
        while self.events.bus.subscribers(user_id) < count:
            assert time.monotonic() < deadline, f"{count} subscribers of {user_id} never showed"
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[LiveServer]:
    """uvicorn in this event loop on a free loopback port, stopped when the block ends."""
    app = create_app(settings)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=2
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 15
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped during startup")
        assert time.monotonic() < deadline, "uvicorn did not start"
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield LiveServer(app, port)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


class WSClient:
    """One graphql-transport-ws connection, driven message by message."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self, wait: float = TIMEOUT) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.connection.recv(), wait)
        assert isinstance(raw, str), "graphql-transport-ws messages are text frames"
        message: dict[str, Any] = json.loads(raw)
        return message

    async def init(self, payload: dict[str, Any] | None) -> dict[str, Any]:
        await self.send({"type": "connection_init", "payload": payload or {}})
        return await self.receive()

    async def subscribe(self, user_id: str, op_id: str = "1", query: str = TASK_EVENTS) -> None:
        await self.send(
            {
                "id": op_id,
                "type": "subscribe",
                "payload": {"query": query, "variables": {"userId": user_id}},
            }
        )

    async def event(self, wait: float = TIMEOUT) -> dict[str, Any]:
        """The next `next` message's taskEvents payload."""
        message = await self.receive(wait)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        event: dict[str, Any] = message["payload"]["data"]["taskEvents"]
        return event

    async def nothing(self, seconds: float = 0.3) -> None:
        with contextlib.suppress(TimeoutError):
            message = await self.receive(seconds)
            raise AssertionError(f"expected silence, got {message}")

    async def closed(self, wait: float = TIMEOUT) -> tuple[int, str]:
        """Wait for the server to close the socket: (code, reason)."""
        try:
            async with asyncio.timeout(wait):
                while True:
                    await self.connection.recv()
        except ConnectionClosed as exc:
            assert exc.rcvd is not None, "the connection ended without a close frame"
            return exc.rcvd.code, exc.rcvd.reason
        raise AssertionError("unreachable")


@contextlib.asynccontextmanager
async def ws_client(
    server: LiveServer | str, *, origin: str | None = None
) -> AsyncIterator[WSClient]:
    """A graphql-transport-ws connection to a server (or a ws:// URL), closed at the end."""
    async with connect(
        server.ws_url if isinstance(server, LiveServer) else server,
        subprotocols=[PROTOCOL],
        origin=Origin(origin) if origin else None,
        open_timeout=TIMEOUT,
        close_timeout=1,
    ) as connection:
        yield WSClient(connection)


@contextlib.asynccontextmanager
async def subscribed(
    server: LiveServer, token: str, user_id: str, query: str = TASK_EVENTS
) -> AsyncIterator[WSClient]:
    """A connection authenticated with `token` and subscribed to `user_id`'s events."""
    async with ws_client(server) as client:
        ack = await client.init({"Authorization": f"Bearer {token}"})
        assert ack["type"] == "connection_ack", ack
        before = server.events.bus.subscribers(user_id)
        await client.subscribe(user_id, query=query)
        await server.subscribers(user_id, before + 1)
        yield client


class Tasks:
    """One user's task mutations over HTTP, against the same server."""

    def __init__(self, http: httpx.AsyncClient, token: str, user_id: str) -> None:
        self.http, self.token, self.user_id = http, token, user_id

    async def call(self, query: str, **variables: Any) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": {"userId": self.user_id, **variables}},
            headers={"authorization": f"Bearer {self.token}"},
        )
        body: dict[str, Any] = response.json()
        return body

    async def create(self, title: str) -> dict[str, Any]:
        body = await self.call(CREATE, input={"title": title})
        task: dict[str, Any] = body["data"]["createTask"]
        return task

    async def update(self, task_id: str, **changes: Any) -> dict[str, Any]:
        return await self.call(UPDATE, id=task_id, input=changes)

    async def toggle(self, task_id: str) -> dict[str, Any]:
        return await self.call(TOGGLE, id=task_id)

    async def delete(self, task_id: str) -> dict[str, Any]:
        return await self.call(DELETE, id=task_id)
