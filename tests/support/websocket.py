"""A small graphql-transport-ws client, driven message by message, for a LiveServer or a URL."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin, Subprotocol

from tests.support.live import TIMEOUT, LiveServer

PROTOCOL = Subprotocol("graphql-transport-ws")
# Narrower than the front end's TaskEvents: tests compare whole tasks without their timestamps.
TASK_EVENTS = """subscription($userId: ID!) {
  taskEvents(userId: $userId) { type taskId task { id userId title description completed } } }"""
# With the cursor, and resuming after one (`after` in `subscribe`).
RESUMABLE = """subscription($userId: ID!, $after: String) {
  taskEvents(userId: $userId, after: $after) { cursor type taskId task { id title version } } }"""


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

    async def subscribe(
        self, user_id: str, op_id: str = "1", query: str = TASK_EVENTS, after: str | None = None
    ) -> None:
        variables: dict[str, Any] = {"userId": user_id}
        if after is not None:
            variables["after"] = after
        await self.send(
            {"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables}}
        )

    async def event(self, wait: float = TIMEOUT) -> dict[str, Any]:
        """The next `next` message's taskEvents payload."""
        message = await self.receive(wait)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        event: dict[str, Any] = message["payload"]["data"]["taskEvents"]
        return event

    async def nothing(self, seconds: float = 0.3) -> None:
        """Nothing arrives for `seconds`: a silence can only be heard by listening that long."""
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
    server: LiveServer,
    token: str,
    user_id: str,
    query: str = TASK_EVENTS,
    after: str | None = None,
) -> AsyncIterator[WSClient]:
    """A connection authenticated with `token` and subscribed to `user_id`'s events (after
    the cursor `after`, if given: then query RESUMABLE or one like it)."""
    async with ws_client(server) as client:
        ack = await client.init({"Authorization": f"Bearer {token}"})
        assert ack["type"] == "connection_ack", ack
        before = server.events.bus.subscribers(user_id)
        await client.subscribe(user_id, query=query, after=after)
        await server.subscribers(user_id, before + 1)
        yield client
