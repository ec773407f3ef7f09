"""`taskql watch`: a user's task events as JSON lines, reconnecting with a fresh token at expiry
and resuming after the last event it printed, so nothing is missed or printed twice."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from contract.errors import CloseCode

WATCH = (
    "subscription Watch($userId: ID!, $after: String) { taskEvents(userId: $userId, after: $after) "
    "{ cursor type taskId task { id title description completed version updatedAt } } }"
)
_PROTOCOL = Subprotocol("graphql-transport-ws")
_WAIT_SECONDS = 10.0


class WatchError(Exception):
    """The server refused the watcher (bad token, forbidden, limits)."""


async def watch(
    url: str,
    user_id: str,
    mint: Callable[[], str],
    *,
    emit: Callable[[str], None],
    note: Callable[[str], None],
    count: int | None = None,
    after: str | None = None,
) -> None:
    """Print events (after the cursor `after`, if given) until `count` of them, or forever; at
    4001 reconnect with a new token and resume after the last one printed."""
    seen = 0
    while count is None or seen < count:
        try:
            async with connect(url, subprotocols=[_PROTOCOL], open_timeout=_WAIT_SECONDS) as ws:
                await _start(ws, mint(), user_id, after)
                note(f"watching the tasks of {user_id} at {url} (Ctrl-C to stop)")
                async for raw in ws:
                    message = json.loads(raw)
                    if message.get("type") == "ping":
                        await ws.send(json.dumps({"type": "pong"}))
                    elif message.get("type") == "next":
                        event = message["payload"].get("data", {}).get("taskEvents")
                        emit(json.dumps(event))
                        after = event["cursor"] if isinstance(event, dict) else after
                        seen += 1
                        if count is not None and seen >= count:
                            return
                    elif message.get("type") == "error":
                        raise WatchError(message["payload"][0]["message"])
                    elif message.get("type") == "complete":
                        return
                return  # the server closed normally (1000/1001)
        except ConnectionClosed as exc:
            code, reason = (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (1006, "")
            if code != CloseCode.TOKEN_EXPIRED:
                raise WatchError(f"the server closed the connection: {code} {reason}") from None
            note("token expired: reconnecting with a fresh one")


async def _start(ws: ClientConnection, token: str, user_id: str, after: str | None) -> None:
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
    await ws.send(json.dumps(init))
    ack = json.loads(await asyncio.wait_for(ws.recv(), _WAIT_SECONDS))
    if ack.get("type") != "connection_ack":
        raise WatchError(f"expected connection_ack, got {ack.get('type')!r}")
    variables = {"userId": user_id, "after": after}
    subscribe = {"query": WATCH, "variables": variables, "operationName": "Watch"}
    await ws.send(json.dumps({"id": "watch", "type": "subscribe", "payload": subscribe}))
