"""Interop: the graphql-ws npm client with real Better Auth tokens, through an expiry."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.support.better_auth import BetterAuthIssuer, ensure_installed
from tests.support.graphql import Tasks
from tests.support.graphql_ws_client import SCRIPT
from tests.support.graphql_ws_client import ensure_installed as ensure_client_installed
from tests.support.live import Start
from tests.support.operations import operation

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def short_lived_issuer() -> Iterator[BetterAuthIssuer]:
    """EdDSA (Better Auth's default) with 3-second tokens, so the test sees an expiry."""
    ensure_installed()
    with BetterAuthIssuer(alg="EdDSA", expiration_time=3) as issuer:
        yield issuer


class NodeClient:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def next_line(self, wait: float = 10.0) -> dict[str, Any]:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), wait)
        assert raw, "the graphql-ws client exited"
        line: dict[str, Any] = json.loads(raw)
        return line

    async def expect(self, event: str, wait: float = 10.0) -> dict[str, Any]:
        """The next line of kind `event`; lines of other kinds before it fail the test."""
        line = await self.next_line(wait)
        while line["event"] == "token":  # logged on each (re)connection; checked separately
            line = await self.next_line(wait)
        assert line["event"] == event, line
        return line


@pytest.fixture
async def node_client() -> AsyncIterator[Any]:
    install = ensure_client_installed()
    started: list[asyncio.subprocess.Process] = []

    async def run(config: dict[str, Any]) -> NodeClient:
        process = await asyncio.create_subprocess_exec(
            "node",
            SCRIPT,
            json.dumps(config),
            cwd=install,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        started.append(process)
        return NodeClient(process)

    yield run
    for process in started:
        if process.returncode is None:
            assert process.stdin is not None
            process.stdin.close()  # the script exits when stdin closes
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
                await process.wait()


async def test_graphql_ws_client_reconnects_after_expiry_until_the_user_signs_out(
    start: Start, short_lived_issuer: BetterAuthIssuer, node_client: Any
) -> None:
    issuer = short_lived_issuer
    server = await start(better_auth_url=issuer.url, better_auth_secret=None)
    session = issuer.sign_up()
    client: NodeClient = await node_client(
        {
            "url": server.ws_url,
            "query": operation("TaskEvents"),  # the front end's own, with its fragment
            "variables": {"userId": session.user_id},
            "tokenUrl": f"{issuer.url}/api/auth/token",
            "cookie": "; ".join(f"{name}={value}" for name, value in session.cookies.items()),
            "origin": issuer.url,
        }
    )
    async with httpx.AsyncClient(base_url=server.http_url, trust_env=False) as http:
        await client.expect("connected")
        await server.subscribers(session.user_id)
        writer = Tasks(http, session.token(), session.user_id)
        first = await writer.create("from a Better Auth user")
        event = (await client.expect("next"))["value"]["data"]["taskEvents"]
        assert event["type"] == "CREATED"
        assert event["task"] == first

        closed = await client.expect("closed", wait=6)
        assert (closed["code"], closed["reason"]) == (4001, "Token expired")
        assert (await client.next_line())["event"] == "token"  # connectionParams ran again
        assert (await client.expect("connected"))["n"] == 2
        await server.subscribers(session.user_id)
        writer.token = session.token()
        second = await writer.create("after the reconnect")
        event = (await client.expect("next"))["value"]["data"]["taskEvents"]
        assert (event["type"], event["taskId"]) == ("CREATED", second["id"])

        session.sign_out()  # no fresh token any more: the stream ends at this token's exp
        assert (await client.expect("closed", wait=6))["code"] == 4001
        failed = await client.expect("error")
        assert "401" in failed["error"]
