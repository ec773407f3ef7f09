"""The socket itself: token in connection_init, close codes, origins and limits (SPEC §7)."""

from __future__ import annotations

import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from resolvers import tasks as store
from resolvers.events import ChangeKind, TaskChange
from tests.support.live import Start
from tests.support.tokens import hs256_token
from tests.support.websocket import RESUMABLE, subscribed, ws_client

LONG = 6 * 3600


@pytest.mark.parametrize(
    "payload",
    [
        # Made at collection: they must outlast a slow suite on a loaded machine.
        {"Authorization": f"Bearer {hs256_token('alice', ttl=LONG)}"},
        {"authorization": f"Bearer {hs256_token('alice', ttl=LONG)}"},
        {"token": hs256_token("alice", ttl=LONG)},
        {"token": f"Bearer {hs256_token('alice', ttl=LONG)}"},
    ],
    ids=["Authorization", "authorization", "token", "token-bearer"],
)
async def test_connection_init_accepts_the_token_under_each_documented_key(
    start: Start, payload: dict[str, str]
) -> None:
    server = await start()
    async with ws_client(server) as client:
        assert await client.init(payload) == {"type": "connection_ack"}


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": f"Basic {hs256_token('alice')}"},
        {"Authorization": f"Bearer {hs256_token('alice', ttl=-120)}"},  # expired
        {"Authorization": f"Bearer {hs256_token('alice')}x"},  # bad signature
        {"token": 42},
    ],
    ids=["missing", "garbage", "basic", "expired", "bad-signature", "not-a-string"],
)
async def test_a_missing_or_bad_token_closes_4403_before_any_subscription(
    start: Start, payload: dict[str, object]
) -> None:
    server = await start()
    async with ws_client(server) as client:
        await client.send({"type": "connection_init", "payload": payload})
        await client.subscribe("alice")
        assert await client.closed() == (4403, "Forbidden")
    assert server.events.bus.subscribers() == 0


async def test_subscribing_before_connection_init_closes_4401(start: Start) -> None:
    server = await start()
    async with ws_client(server) as client:
        await client.subscribe("alice")
        assert await client.closed() == (4401, "Unauthorized")


async def test_no_connection_init_in_time_closes_4408(start: Start) -> None:
    server = await start(ws_init_timeout_seconds=0.3)
    async with ws_client(server) as client:
        code, _ = await client.closed(wait=3)
    assert code == 4408


async def test_the_socket_closes_4001_token_expired_when_the_token_reaches_exp(
    start: Start,
) -> None:
    server = await start()
    token = hs256_token("alice", ttl=2)
    async with subscribed(server, token, "alice") as client:
        began = time.time()
        code, reason = await client.closed(wait=6)
        elapsed = time.time() - began
    assert (code, reason) == (4001, "Token expired")
    assert 0.5 < elapsed < 3.5  # exp has whole-second resolution
    assert server.events.bus.subscribers("alice") == 0


async def test_a_foreign_origin_is_refused_at_the_handshake(start: Start) -> None:
    server = await start(cors_origins=["https://app.example"])
    with pytest.raises(InvalidStatus) as refused:
        async with ws_client(server, origin="https://evil.example"):
            pass
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("origin", ["https://app.example", None])
async def test_a_listed_origin_or_a_non_browser_client_is_accepted(
    start: Start, origin: str | None
) -> None:
    server = await start(cors_origins=["https://app.example"])
    async with ws_client(server, origin=origin) as client:
        assert await client.init({"token": hs256_token("alice")}) == {"type": "connection_ack"}


async def test_the_legacy_graphql_ws_subprotocol_is_refused_4406(start: Start) -> None:
    server = await start()
    async with connect(server.ws_url, subprotocols=[Subprotocol("graphql-ws")]) as legacy:
        with pytest.raises(ConnectionClosed) as closed:
            await legacy.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4406


async def test_connections_beyond_the_per_user_limit_close_4029(start: Start) -> None:
    server = await start(ws_max_connections_per_user=2)
    token = hs256_token("alice")
    async with subscribed(server, token, "alice"), subscribed(server, token, "alice"):
        async with ws_client(server) as third:
            await third.send({"type": "connection_init", "payload": {"token": token}})
            assert await third.closed() == (4029, "Too many connections")
        async with ws_client(server) as someone_else:
            assert await someone_else.init({"token": hs256_token("bob")}) == {
                "type": "connection_ack"
            }
    async with ws_client(server) as later:  # closed sockets give their places back
        assert await later.init({"token": token}) == {"type": "connection_ack"}


async def test_subscriptions_beyond_the_per_connection_limit_get_an_error(
    start: Start,
) -> None:
    server = await start(ws_max_subscriptions_per_connection=2)
    async with ws_client(server) as client:
        await client.init({"token": hs256_token("alice")})
        for op_id in ("1", "2", "3"):
            await client.subscribe("alice", op_id)
        refused = await client.receive()
        await server.subscribers("alice", 2)
    assert refused["id"] == "3" and refused["type"] == "error"
    assert refused["payload"][0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"


async def test_queries_and_mutations_over_websocket_are_refused(start: Start) -> None:
    server = await start()
    async with ws_client(server) as client:
        await client.init({"token": hs256_token("alice")})
        await client.send({"id": "q", "type": "subscribe", "payload": {"query": "{ me { id } }"}})
        refused = await client.receive()
    assert refused["type"] == "error"
    assert refused["payload"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_subscriber_that_falls_a_queue_behind_catches_up_from_the_log(
    start: Start,
) -> None:
    """Overflowing its queue no longer drops the subscriber (it was 4013): what it missed is
    read from the event log, in order, once each, and the socket stays."""
    server = await start(ws_event_queue_size=4)
    async with subscribed(server, hs256_token("alice"), "alice", RESUMABLE) as client:
        created = []
        async with server.app.state.services.database.session() as session:
            for index in range(30):  # logged, but not published: the feed hears none of it
                task = await store.create_task(session, None, "alice", f"t{index}", None)
                created.append(str(task.id))
        for seq in range(1, 31):  # then all of it at once, faster than any socket
            server.events.bus.deliver(TaskChange(ChangeKind.DELETED, 0, "alice", None, seq))
        events = [await client.event() for _ in created]
        await client.nothing()
    assert [event["taskId"] for event in events] == created
    assert [event["type"] for event in events] == ["CREATED"] * 30
    assert len({event["cursor"] for event in events}) == 30


async def test_a_subscribe_flood_gets_an_error_per_operation_and_the_socket_stays(
    start: Start,
) -> None:
    server = await start(rate_limit="3/minute")
    token = hs256_token("alice")
    async with ws_client(server) as client:
        await client.init({"token": token})  # the connection attempt is the first of three
        for op_id in ("1", "2", "3"):
            await client.subscribe("alice", op_id)
        refused = await client.receive()
        assert refused["id"] == "3" and refused["type"] == "error"
        assert refused["payload"][0]["extensions"]["code"] == "RATE_LIMITED"
        await client.send({"type": "ping"})
        assert await client.receive() == {"type": "pong"}  # the socket stays
    async with ws_client(server) as again:  # a further connection attempt is over the limit
        await again.send({"type": "connection_init", "payload": {"token": token}})
        assert await again.closed() == (4029, "Rate limited; retry later")
