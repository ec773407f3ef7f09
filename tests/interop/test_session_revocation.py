"""Signed out means signed out, against a real Better Auth keeping its sessions in PostgreSQL.

Better Auth puts `sid` in its tokens (`definePayload`, as the README shows); taskql reads Better
Auth's `session` table and refuses a token whose session ended within SESSION_CHECK_SECONDS.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from sqlalchemy import make_url

from tests.support.apps import AppFactory, RunningApp
from tests.support.better_auth import BetterAuthIssuer, Session
from tests.support.databases import plain_url
from tests.support.graphql import codes, unauthenticated
from tests.support.live import Start
from tests.support.operations import LIST_TASKS
from tests.support.tcp_proxy import TcpProxy
from tests.support.timing import eventually
from tests.support.tokens import decode_unverified
from tests.support.websocket import subscribed, ws_client

pytestmark = pytest.mark.interop

BOUND = 1.0  # SESSION_CHECK_SECONDS in these tests
MARGIN = 1.0  # a loaded CI machine's scheduling, on top of the bound
REVOKED = ("revoked", "Session has ended. Please log in again.")


def checked(issuer: BetterAuthIssuer, database: str) -> dict[str, object]:
    return {
        "better_auth_secret": None,
        "better_auth_url": issuer.url,
        "better_auth_database_url": database,
        "session_check_seconds": BOUND,
    }


@pytest.fixture
async def taskql(
    build_app: AppFactory, sid_issuer: BetterAuthIssuer, better_auth_database: str
) -> RunningApp:
    return await build_app(**checked(sid_issuer, better_auth_database))


async def tasks_of(taskql: RunningApp, session: Session, token: str) -> httpx.Response:
    return await taskql.query(LIST_TASKS, {"userId": session.user_id}, token=token)


async def refused_within_the_bound(taskql: RunningApp, session: Session, token: str) -> float:
    """Seconds from now until `token` is refused as revoked; fails past the bound + margin."""
    began = time.monotonic()
    await eventually(
        lambda: _is_refused(taskql, session, token),
        within=BOUND + MARGIN,
        interval=0.05,
        message="the ended session's token was still accepted",
    )
    return time.monotonic() - began


async def _is_refused(taskql: RunningApp, session: Session, token: str) -> bool:
    response = await tasks_of(taskql, session, token)
    if response.status_code == 200:
        return False
    assert unauthenticated(response) == REVOKED
    return True


async def test_better_auth_puts_the_session_id_in_the_token(sid_issuer: BetterAuthIssuer) -> None:
    alice = sid_issuer.sign_up()
    claims = decode_unverified(alice.token())[1]
    assert claims["sid"] == alice.session_id
    assert claims["sub"] == alice.user_id
    assert claims["email"] == alice.email  # the default claims are kept


async def test_after_sign_out_the_same_token_is_refused_within_the_bound(
    taskql: RunningApp, sid_issuer: BetterAuthIssuer
) -> None:
    alice = sid_issuer.sign_up()
    token = alice.token()
    assert (await tasks_of(taskql, alice, token)).status_code == 200

    alice.sign_out()

    await refused_within_the_bound(taskql, alice, token)
    response = await tasks_of(taskql, alice, token)
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    metrics = (await taskql.client.get("/metrics")).text
    assert 'taskql_jwt_failures_total{reason="revoked"}' in metrics
    assert 'taskql_jwt_failures_total{reason="revoked"} 0.0' not in metrics


async def test_revoking_one_session_leaves_the_users_other_sessions_and_other_users(
    taskql: RunningApp, sid_issuer: BetterAuthIssuer
) -> None:
    phone = sid_issuer.sign_up()
    laptop = sid_issuer.sign_in(phone.email)
    bob = sid_issuer.sign_up()
    tokens = {session: session.token() for session in (phone, laptop, bob)}
    for session, token in tokens.items():
        assert (await tasks_of(taskql, session, token)).status_code == 200

    laptop.revoke_session(phone)

    await refused_within_the_bound(taskql, phone, tokens[phone])
    assert (await tasks_of(taskql, laptop, tokens[laptop])).status_code == 200
    assert (await tasks_of(taskql, bob, tokens[bob])).status_code == 200


async def test_revoking_every_session_of_a_user_leaves_other_users_working(
    taskql: RunningApp, sid_issuer: BetterAuthIssuer
) -> None:
    phone = sid_issuer.sign_up()
    laptop = sid_issuer.sign_in(phone.email)
    bob = sid_issuer.sign_up()
    phone_token, laptop_token, bob_token = phone.token(), laptop.token(), bob.token()
    assert (await tasks_of(taskql, laptop, laptop_token)).status_code == 200

    phone.revoke_sessions()

    await refused_within_the_bound(taskql, phone, phone_token)
    await refused_within_the_bound(taskql, laptop, laptop_token)
    assert (await tasks_of(taskql, bob, bob_token)).status_code == 200


async def test_an_expired_session_is_refused_though_its_row_remains(
    taskql: RunningApp, sid_issuer: BetterAuthIssuer, better_auth_database: str
) -> None:
    alice = sid_issuer.sign_up()
    token = alice.token()
    assert (await tasks_of(taskql, alice, token)).status_code == 200
    connection = await asyncpg.connect(plain_url(better_auth_database))
    try:
        await connection.execute(
            """UPDATE "session" SET "expiresAt" = now() - interval '1 second' WHERE "id" = $1""",
            alice.session_id,
        )
    finally:
        await connection.close()

    await refused_within_the_bound(taskql, alice, token)


async def test_a_signed_token_naming_another_users_session_is_refused(
    taskql: RunningApp, sid_issuer: BetterAuthIssuer
) -> None:
    alice, bob = sid_issuer.sign_up(), sid_issuer.sign_up()
    forged = sid_issuer.sign_jwt({"sub": alice.user_id, "sid": bob.session_id})

    response = await tasks_of(taskql, alice, forged)

    assert unauthenticated(response) == REVOKED
    assert (await tasks_of(taskql, bob, bob.token())).status_code == 200


async def test_an_unknown_session_id_is_refused(
    taskql: RunningApp, sid_issuer: BetterAuthIssuer
) -> None:
    alice = sid_issuer.sign_up()
    forged = sid_issuer.sign_jwt({"sub": alice.user_id, "sid": "no-such-session"})
    assert unauthenticated(await tasks_of(taskql, alice, forged)) == REVOKED


async def test_better_auths_database_down_is_503_past_the_bound_then_recovers(
    build_app: AppFactory, sid_issuer: BetterAuthIssuer, better_auth_database: str
) -> None:
    url = make_url(better_auth_database)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    try:
        through_proxy = url.set(host="127.0.0.1", port=proxy.port)
        settings = checked(sid_issuer, through_proxy.render_as_string(hide_password=False))
        taskql = await build_app(**settings, db_connect_timeout_seconds=1.0)
        alice = sid_issuer.sign_up()
        token = alice.token()
        assert (await tasks_of(taskql, alice, token)).status_code == 200

        await proxy.cut()
        await asyncio.sleep(BOUND)  # the cached answer is now older than the bound
        began = time.monotonic()
        response = await tasks_of(taskql, alice, token)
        assert time.monotonic() - began < 2.0  # bounded by the connect timeout
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"]
        assert codes(response) == ["SERVICE_UNAVAILABLE"]
        assert "asyncpg" not in response.text and str(proxy.port) not in response.text
        ready = await taskql.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["sessions"] == "unavailable"

        await proxy.restore()
        response = await tasks_of(taskql, alice, token)
        assert response.status_code == 200, response.text
    finally:
        await proxy.close()


async def test_an_open_socket_closes_4403_once_its_session_ends(
    start: Start, sid_issuer: BetterAuthIssuer, better_auth_database: str
) -> None:
    server = await start(**checked(sid_issuer, better_auth_database))
    alice, bob = sid_issuer.sign_up(), sid_issuer.sign_up()
    async with (
        subscribed(server, alice.token(), alice.user_id) as socket,
        subscribed(server, bob.token(), bob.user_id) as other,
    ):
        alice.sign_out()
        began = time.monotonic()
        assert await socket.closed(wait=BOUND + MARGIN) == (4403, "Session has ended")
        assert time.monotonic() - began <= BOUND + MARGIN
        await other.nothing(BOUND + 0.2)  # bob's socket outlives two checks


async def test_a_socket_cannot_open_on_an_ended_session(
    start: Start, sid_issuer: BetterAuthIssuer, better_auth_database: str
) -> None:
    server = await start(**checked(sid_issuer, better_auth_database))
    alice = sid_issuer.sign_up()
    token = alice.token()
    alice.sign_out()
    async with ws_client(server) as socket:
        await socket.send({"type": "connection_init", "payload": {"token": token}})
        assert await socket.closed() == (4403, "Forbidden")
