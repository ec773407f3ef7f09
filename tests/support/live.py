"""taskql under uvicorn in this event loop, on a free loopback port: real sockets, one process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from resolvers.events import EventHub
from taskql.app import create_app
from taskql.settings import Settings
from tests.support.timing import eventually

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
        await eventually(
            lambda: self.events.bus.subscribers(user_id) >= count,
            within=TIMEOUT,
            interval=0.01,
            message=f"{count} subscribers of {user_id} never showed",
        )


Start = Callable[..., Awaitable[LiveServer]]


@contextlib.asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[LiveServer]:
    """uvicorn in this event loop on a free loopback port, stopped when the block ends."""
    app = create_app(settings)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=2
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve())

    def started() -> bool:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped during startup")
        return bool(server.started)

    await eventually(started, within=15, interval=0.01, message="uvicorn did not start")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield LiveServer(app, port)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
