"""Fuzzing graphql-transport-ws: whatever a client sends, its socket stays usable or closes with a
code (never a dropped connection), and the user's place is given back afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from tests.support.live import LiveServer, Start
from tests.support.strategies import any_json
from tests.support.timing import eventually
from tests.support.tokens import hs256_token
from tests.support.websocket import TASK_EVENTS, WSClient, ws_client

# Close codes a client may earn by what it sends (SPEC §7 and the protocol's own).
EARNED = {4400, 4401, 4403, 4409, 4429}
USER, TOKEN = "<user>", "<token>"  # stand for each example's own user and token
WAIT = 5.0

json_values = any_json(text=8, keys=8, items=3, leaves=8)
ids = st.sampled_from(["1", "2", "x"]) | st.text(min_size=1, max_size=150)
DOCUMENTS = [
    TASK_EVENTS,
    'subscription { taskEvents(userId: "someone-else") { type } }',
    "{ me { id } }",
    'mutation { deleteTask(userId: "<user>", id: 1) }',
    "subscription {",
    "",
]
documents = st.sampled_from(DOCUMENTS) | st.text(max_size=40)
payloads = st.fixed_dictionaries(
    {"query": documents},
    optional={
        "variables": st.just({"userId": USER}) | st.none(),
        "operationName": st.none() | st.text(max_size=150),
        "extensions": st.none() | st.just({}),
    },
)
inits = st.sampled_from(
    [
        {"type": "connection_init", "payload": {"token": TOKEN}},
        {"type": "connection_init", "payload": {"Authorization": f"Bearer {TOKEN}"}},
        {"type": "connection_init"},
        {"type": "connection_init", "payload": None},
    ]
)
operations = st.one_of(
    st.sampled_from([{"type": "ping"}, {"type": "ping", "payload": {}}, {"type": "pong"}]),
    st.builds(lambda i, p: {"type": "subscribe", "id": i, "payload": p}, ids, payloads),
    st.builds(lambda i, p: {"type": "subscribe", "id": i, "payload": p}, ids, payloads),
    st.builds(lambda i: {"type": "complete", "id": i}, ids),
)
valid_messages = inits | operations | operations | operations


def _near_miss(message: dict[str, Any], field: str, value: object, drop: bool) -> dict[str, Any]:
    """A valid message with one field (or one payload field) of a wrong type, or missing."""
    changed = dict(message)
    target = changed
    if field.startswith("payload.") and isinstance(changed.get("payload"), dict):
        target = changed["payload"] = dict(changed["payload"])
        field = field.removeprefix("payload.")
    if drop:
        target.pop(field, None)
    else:
        target[field] = value
    return changed


near_misses = st.builds(
    _near_miss,
    valid_messages,
    st.sampled_from(
        ["type", "id", "payload", "payload.query", "payload.variables", "payload.operationName"]
    ),
    json_values,
    st.booleans(),
)
valid_frames = valid_messages.map(json.dumps)
frames = st.one_of(
    valid_frames,  # thrice, so that sequences get far enough to subscribe and reuse ids
    valid_frames,
    valid_frames,
    near_misses.map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=20),
    st.binary(max_size=20),
)
examples = itertools.count()


@pytest.fixture
async def server(start: Start) -> LiveServer:
    """One server for all of a test's examples (Hypothesis runs them under one fixture); one
    place per user, so a place not given back shows in the example that leaked it."""
    return await start(ws_max_connections_per_user=1)


async def outcome(client: WSClient, sent: list[str | bytes]) -> str:
    """'open' once every valid ping and one more have been answered, or the close it earned."""
    pings = 1 + sum(1 for frame in sent if _is_ping(frame))
    try:
        await client.send({"type": "ping"})
        async with asyncio.timeout(WAIT):
            while pings:
                if (await client.receive()).get("type") == "pong":
                    pings -= 1
    except ConnectionClosed as exc:
        assert exc.rcvd is not None, "the socket was dropped without a close frame"
        assert exc.rcvd.code in EARNED, exc.rcvd
        return f"closed {exc.rcvd.code}"
    return "open"


def _is_ping(frame: str | bytes) -> bool:
    try:
        message = json.loads(frame)
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("type") == "ping"


async def admitted_eventually(server: LiveServer, token: str) -> None:
    """A fresh socket of the same user is acked (its last one may still be shutting down)."""

    async def admitted() -> bool:
        async with ws_client(server) as client:
            return await client.init({"token": token}) == {"type": "connection_ack"}

    await eventually(
        admitted, within=WAIT, interval=0.02, message="the user's place was never given back"
    )


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sequence=st.lists(frames, min_size=1, max_size=6),
    init_first=st.sampled_from([True, True, True, False]),
)
async def test_any_message_sequence_leaves_a_usable_socket_or_a_close_code(
    server: LiveServer,
    caplog: pytest.LogCaptureFixture,
    sequence: list[str | bytes],
    init_first: bool,
) -> None:
    caplog.clear()
    user = f"fuzz-{next(examples)}"  # each example its own places: a leak shows at once
    token = hs256_token(user)
    init = json.dumps({"type": "connection_init", "payload": {"token": TOKEN}})
    sent = [_personal(frame, user, token) for frame in ([init] if init_first else []) + sequence]
    note(f"frames sent: {sent!r}")  # Hypothesis does not show this test's arguments
    async with ws_client(server) as client:
        with contextlib.suppress(ConnectionClosed):  # closed mid-sequence: `outcome` says why
            for frame in sent:
                await client.connection.send(frame)
        event(await outcome(client, sent))
    await admitted_eventually(server, token)
    # What a client sends is never a server error: no traceback, no masked INTERNAL_SERVER_ERROR.
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert not errors, errors


def _personal(frame: str | bytes, user: str, token: str) -> str | bytes:
    if isinstance(frame, bytes):
        return frame
    return frame.replace(USER, user).replace(TOKEN, token)
