"""`taskql watch`: prints a user's events and comes back by itself when its token expires."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import httpx

from tests.support.graphql import Tasks
from tests.support.live import Start
from tests.support.tokens import TEST_SECRET, hs256_token

TASKQL = str(Path(sys.executable).with_name("taskql"))


async def line_from(stream: asyncio.StreamReader, wait: float = 10.0) -> str:
    line = await asyncio.wait_for(stream.readline(), wait)
    assert line, "the watcher ended early"
    return line.decode().strip()


async def test_watch_prints_events_and_reconnects_when_its_token_expires(
    start: Start, tmp_path: Path
) -> None:
    server = await start()
    env = {**os.environ, "BETTER_AUTH_SECRET": TEST_SECRET, "TASKQL_ENV": "development"}
    watcher = await asyncio.create_subprocess_exec(
        TASKQL,
        "watch",
        "--sub",
        "alice",
        "--url",
        server.ws_url,
        "--ttl",
        "2s",
        "--count",
        "2",
        cwd=tmp_path,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert watcher.stdout is not None and watcher.stderr is not None
    try:
        async with httpx.AsyncClient(base_url=server.http_url, trust_env=False) as http:
            alice = Tasks(http, hs256_token("alice"), "alice")
            assert "watching the tasks of alice" in await line_from(watcher.stderr)
            await server.subscribers("alice")
            first = await alice.create("seen by the first token")
            assert json.loads(await line_from(watcher.stdout))["taskId"] == first["id"]

            assert "token expired" in await line_from(watcher.stderr, wait=5)
            assert "watching the tasks of alice" in await line_from(watcher.stderr)
            await server.subscribers("alice")
            second = await alice.create("seen by the second token")
            event = json.loads(await line_from(watcher.stdout))
        assert (event["type"], event["taskId"]) == ("CREATED", second["id"])
        assert await asyncio.wait_for(watcher.wait(), 10) == 0
    finally:
        if watcher.returncode is None:
            watcher.kill()
            await watcher.wait()


async def test_watch_after_a_cursor_prints_what_happened_while_away(
    start: Start, tmp_path: Path
) -> None:
    server = await start()
    env = {**os.environ, "BETTER_AUTH_SECRET": TEST_SECRET, "TASKQL_ENV": "development"}

    async def run_watch(*extra: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            TASKQL, "watch", "--sub", "alice", "--url", server.ws_url, *extra,
            cwd=tmp_path, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip

    async with httpx.AsyncClient(base_url=server.http_url, trust_env=False) as http:
        alice = Tasks(http, hs256_token("alice"), "alice")
        first = await run_watch("--count", "1")
        assert first.stdout is not None and first.stderr is not None
        assert "watching the tasks of alice" in await line_from(first.stderr)
        await server.subscribers("alice")
        await alice.create("seen")
        cursor = json.loads(await line_from(first.stdout))["cursor"]
        assert await asyncio.wait_for(first.wait(), 10) == 0

        away = [(await alice.create(f"while away {n}"))["id"] for n in range(2)]

        resumed = await run_watch("--after", cursor, "--count", "2")
        assert resumed.stdout is not None
        printed = [json.loads(await line_from(resumed.stdout)) for _ in away]
        assert await asyncio.wait_for(resumed.wait(), 10) == 0
    assert [event["taskId"] for event in printed] == away
