"""Messages outside graphql-transport-ws, and tokens no timer can wait for: the socket closes with
a code, never drops, and the user's places are given back (SPEC §7)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.apps import AppFactory
from tests.support.graphql import unauthenticated
from tests.support.live import LiveServer, Start
from tests.support.timing import eventually
from tests.support.tokens import hs256_token
from tests.support.websocket import WSClient, subscribed, ws_client

INVALID = (4400, "Invalid message received")
QUERY = 'subscription { taskEvents(userId: "alice") { type } }'

# Valid JSON outside the protocol. Strawberry's handler raised on most (the connection ended
# with 1011 or no close frame at all); the rest it closed with reasons of its own, or 4401.
NOT_THE_PROTOCOL = {
    "a list": [],
    "a string": "text",
    "a number": 42,
    "null": None,
    "an object without a type": {"id": "1"},
    "a list as the type": {"type": ["subscribe"]},
    "an unknown type": {"type": "start", "id": "1"},
    "a server message": {"type": "next", "id": "1", "payload": {}},
    "subscribe with a list id": {"type": "subscribe", "id": [1], "payload": {"query": QUERY}},
    "subscribe with an object id": {"type": "subscribe", "id": {}, "payload": {"query": QUERY}},
    "subscribe with a number id": {"type": "subscribe", "id": 1, "payload": {"query": QUERY}},
    "subscribe with an empty id": {"type": "subscribe", "id": "", "payload": {"query": QUERY}},
    "subscribe without an id": {"type": "subscribe", "payload": {"query": QUERY}},
    "subscribe with a string payload": {"type": "subscribe", "id": "1", "payload": "x"},
    "subscribe with a list payload": {"type": "subscribe", "id": "1", "payload": []},
    "subscribe without a payload": {"type": "subscribe", "id": "1"},
    "subscribe with a number query": {"type": "subscribe", "id": "1", "payload": {"query": 1}},
    "subscribe without a query": {"type": "subscribe", "id": "1", "payload": {}},
    "subscribe with list variables": {
        "type": "subscribe",
        "id": "1",
        "payload": {"query": QUERY, "variables": []},
    },
    "subscribe with a number operationName": {
        "type": "subscribe",
        "id": "1",
        "payload": {"query": QUERY, "operationName": 5},
    },
    "subscribe with string extensions": {
        "type": "subscribe",
        "id": "1",
        "payload": {"query": QUERY, "extensions": "x"},
    },
    "complete with a list id": {"type": "complete", "id": []},
    "complete with a number id": {"type": "complete", "id": 1},
    "complete without an id": {"type": "complete"},
    "connection_init with a string payload": {"type": "connection_init", "payload": "x"},
    "ping with a list payload": {"type": "ping", "payload": []},
    "pong with a number payload": {"type": "pong", "payload": 0},
    "a type too long for a close reason": {"type": "x" * 200},
}


async def admitted(server: LiveServer, token: str) -> bool:
    async with ws_client(server) as client:
        return await client.init({"token": token}) == {"type": "connection_ack"}


async def closed_after(client: WSClient, frame: str | bytes) -> tuple[int, str]:
    await client.connection.send(frame)
    return await client.closed()


@pytest.mark.parametrize("message", NOT_THE_PROTOCOL.values(), ids=NOT_THE_PROTOCOL.keys())
async def test_a_message_outside_the_protocol_closes_4400_before_connection_init(
    start: Start, message: object
) -> None:
    server = await start()
    async with ws_client(server) as client:
        assert await closed_after(client, json.dumps(message)) == INVALID


@pytest.mark.parametrize("message", NOT_THE_PROTOCOL.values(), ids=NOT_THE_PROTOCOL.keys())
async def test_a_message_outside_the_protocol_closes_4400_and_gives_the_place_back(
    start: Start, message: object
) -> None:
    server = await start(ws_max_connections_per_user=1)
    token = hs256_token("alice")
    async with subscribed(server, token, "alice") as client:
        assert await closed_after(client, json.dumps(message)) == INVALID
    assert await admitted(server, token)
    # The subscription ends with the socket; its cleanup may finish a moment after the close.
    await eventually(
        lambda: server.events.bus.subscribers("alice") == 0,
        within=5,
        message="the subscription outlived its socket",
    )


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b'{"type": "connection_init"}', "WebSocket message type must be text"),
        ("{not json", "WebSocket message must be valid JSON"),
        ('{"type": "ping", "payload": NaN}', "WebSocket message must be valid JSON"),
    ],
    ids=["binary", "not-json", "not-strict-json"],
)
async def test_a_binary_or_non_json_frame_closes_4400(
    start: Start, frame: str | bytes, reason: str
) -> None:
    server = await start()
    async with ws_client(server) as client:
        assert await closed_after(client, frame) == (4400, reason)


async def test_a_null_connection_init_payload_is_a_connection_without_a_token(
    start: Start,
) -> None:
    server = await start()
    async with ws_client(server) as client:
        assert await closed_after(client, '{"type": "connection_init", "payload": null}') == (
            4403,
            "Forbidden",
        )


async def test_messages_the_protocol_allows_keep_the_socket_open(start: Start) -> None:
    server = await start()
    async with ws_client(server) as client:
        await client.send({"type": "ping", "payload": None})
        assert await client.receive() == {"type": "pong"}
        await client.send({"type": "connection_init", "payload": {"token": hs256_token("alice")}})
        assert await client.receive() == {"type": "connection_ack"}
        await client.send({"type": "pong", "payload": {"note": "unsolicited"}})
        await client.send({"type": "complete", "id": "never-started"})
        await client.send(
            {
                "type": "subscribe",
                "id": "1",
                "payload": {
                    "query": QUERY,
                    "variables": None,
                    "operationName": None,
                    "extensions": {"trace": True},
                },
                "extra": "fields are the protocol's to add",
            }
        )
        await server.subscribers("alice")
        await client.send({"type": "ping"})
        assert await client.receive() == {"type": "pong"}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"query": ""}, "No GraphQL query found in the request"),
        ({"query": QUERY, "operationName": "Nope"}, 'Unknown operation named "Nope".'),
    ],
    ids=["empty-query", "unknown-operation-name"],
)
async def test_a_subscribe_with_no_operation_to_run_gets_a_bad_request_error_as_over_http(
    start: Start, payload: dict[str, str], message: str
) -> None:
    server = await start()
    async with ws_client(server) as client:
        await client.init({"token": hs256_token("alice")})
        await client.send({"type": "subscribe", "id": "1", "payload": payload})
        error = await client.receive()
        await client.send({"type": "ping"})
        assert await client.receive() == {"type": "pong"}  # the socket is still usable
    assert error["type"] == "error" and error["id"] == "1"
    assert [(e["message"], e["extensions"]["code"]) for e in error["payload"]] == [
        (message, "BAD_REQUEST")
    ]


async def test_a_reused_long_operation_id_closes_4409_with_a_reason_a_close_frame_holds(
    start: Start,
) -> None:
    server = await start()
    long_id = "é" * 200
    async with ws_client(server) as client:
        await client.init({"token": hs256_token("alice")})
        await client.subscribe("alice", long_id)
        await client.subscribe("alice", long_id)
        code, reason = await client.closed()
    assert code == 4409
    assert reason.startswith("Subscriber for é") and len(reason.encode()) <= 123


# python-jose runs int() on these and lets them through; a float of 10**400 overflows.
ABSURD_EXP = [10**400, 1e308, 1e20, 253_402_300_800]


@pytest.mark.parametrize("exp", ABSURD_EXP, ids=["10**400", "1e308", "1e20", "year-10000"])
async def test_tokens_with_an_absurd_exp_are_refused_4403_and_never_lock_the_user_out(
    start: Start, exp: float
) -> None:
    server = await start(ws_max_connections_per_user=10)
    for _ in range(12):  # more than the user's places
        async with ws_client(server) as client:
            await client.send(
                {"type": "connection_init", "payload": {"token": hs256_token("alice", exp=exp)}}
            )
            assert await client.closed() == (4403, "Forbidden")
    assert await admitted(server, hs256_token("alice"))


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": 10**400},
        {"exp": 1e308},
        {"exp": 1e20},
        {"iat": -(10**400)},
        {"iat": -1},
        {"nbf": -(10**400)},
    ],
    ids=[
        "exp-10**400",
        "exp-1e308",
        "exp-1e20",
        "iat-minus-10**400",
        "iat-negative",
        "nbf-minus-10**400",
    ],
)
async def test_an_http_request_with_an_absurd_time_claim_is_401_bad_claims(
    build_app: AppFactory, claims: dict[str, Any]
) -> None:
    taskql = await build_app()

    response = await taskql.me(hs256_token("alice", **claims))

    claim = next(iter(claims))
    assert unauthenticated(response) == ("bad_claims", f"Invalid token: {claim} is out of range")
