"""PostgreSQL fan-out: a write through one taskql process reaches subscribers of another."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from db.session import create_engine
from taskql.live.postgres import PostgresEventHub
from tests.support.graphql import Tasks
from tests.support.live import Start
from tests.support.paths import REPO
from tests.support.processes import ServerProcess
from tests.support.tokens import TEST_SECRET, hs256_token
from tests.support.websocket import WSClient, subscribed, ws_client


@contextlib.contextmanager
def replica(database_url: str, workdir: Path, name: str) -> Iterator[str]:
    """`uvicorn taskql.app:create_app` in its own process, on a socket bound here (no port race)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    argv = [sys.executable, "-m", "uvicorn", "taskql.app:create_app", "--factory"]
    server = ServerProcess(
        name,
        [*argv, "--fd", str(listener.fileno()), "--log-level", "warning"],
        port=port,
        cwd=workdir,
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "BETTER_AUTH_SECRET": TEST_SECRET,
            "TASKQL_ENV": "development",
            "LOG_FORMAT": "text",
            "PYTHONPATH": str(REPO),
        },
        log_dir=workdir,
        ready_path="/readyz",
        pass_fds=[listener.fileno()],
    )
    try:
        server.start()
    finally:
        listener.close()  # the child holds its own copy
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(timeout=10)


@pytest.fixture
async def two_replicas(clean_postgres: str, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    with (
        replica(clean_postgres, tmp_path, "one") as one,
        replica(clean_postgres, tmp_path, "two") as two,
    ):
        yield one, two


async def wait_until_live(feed: WSClient, writer: Tasks) -> None:
    """graphql-transport-ws has no "subscribed" ack: write probes until one comes through."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        await writer.create("probe")
        with contextlib.suppress(TimeoutError):
            await feed.event(wait=0.5)
            return
    raise AssertionError("no event crossed between the replicas")


async def next_real_event(feed: WSClient) -> dict[str, Any]:
    """The next event that is not a late probe."""
    while True:
        event = await feed.event()
        if event["task"] is None or event["task"]["title"] != "probe":
            return event


async def test_a_write_through_one_replica_reaches_a_subscriber_on_the_other(
    two_replicas: tuple[str, str],
) -> None:
    one, two = two_replicas
    token = hs256_token("alice")
    async with (
        httpx.AsyncClient(base_url=f"http://{two}", trust_env=False, timeout=10) as http,
        ws_client(f"ws://{one}/graphql") as feed,
    ):
        await feed.init({"token": token})
        await feed.subscribe("alice")
        writer = Tasks(http, token, "alice")
        await wait_until_live(feed, writer)

        task = await writer.create("through replica two")
        created = await next_real_event(feed)
        await writer.toggle(task["id"])
        toggled = await next_real_event(feed)
    assert (created["type"], created["taskId"]) == ("CREATED", task["id"])
    assert (toggled["type"], toggled["task"]["completed"]) == ("UPDATED", True)


async def test_the_listener_reconnects_after_its_connection_is_killed(
    start: Start, clean_postgres: str
) -> None:
    server = await start(clean_postgres)
    hub = server.events
    assert isinstance(hub, PostgresEventHub) and hub.connections == 1
    engine = create_engine(clean_postgres)
    async with engine.connect() as connection:
        killed = await connection.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'taskql-events' AND datname = current_database()"
            )
        )
    await engine.dispose()
    # Ours, and maybe a listener of an earlier test's server on this database not yet gone.
    assert killed >= 1
    deadline = time.monotonic() + 10
    while hub.connections < 2 or not hub.listening.is_set():
        assert time.monotonic() < deadline, "the listener did not reconnect"
        await asyncio.sleep(0.05)

    token = hs256_token("alice")
    async with (
        httpx.AsyncClient(base_url=server.http_url, trust_env=False) as client,
        subscribed(server, token, "alice") as feed,
    ):
        task = await Tasks(client, token, "alice").create("after the reconnect")
        assert (await feed.event())["taskId"] == task["id"]
