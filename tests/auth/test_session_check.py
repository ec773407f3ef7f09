"""The session check in shared-secret mode, on a session table with custom names (SPEC §4).

The Better Auth interop tests (tests/interop/test_session_revocation.py) prove the same against a
real Better Auth; these pin what does not need one: names from settings, the cache and its bound,
batching, `REQUIRE_SESSION_ID`, and bad `sid` claims.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import event

from tests.support import databases
from tests.support.apps import AppFactory, RunningApp, make_settings
from tests.support.graphql import unauthenticated
from tests.support.timing import FakeClock
from tests.support.tokens import decode_unverified, hs256_token

BOUND = 5.0
REVOKED = ("revoked", "Session has ended. Please log in again.")
# Better Auth with `session: { modelName: "login_session", fields: {...} }` in its own schema.
CUSTOM = {
    "better_auth_session_table": "auth.login_session",
    "better_auth_session_id_column": "sid",
    "better_auth_session_user_id_column": "ownerId",
    "better_auth_session_expires_at_column": "validUntil",
}


class Sessions:
    """The custom session table, written as Better Auth would write it."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def _run(self, statement: str, *args: Any) -> None:
        connection = await asyncpg.connect(databases.plain_url(self.url))
        try:
            await connection.execute(statement, *args)
        finally:
            await connection.close()

    async def open(self, user_id: str, *, expires_in: float = 3600) -> str:
        sid = uuid.uuid4().hex
        expires = datetime.now(UTC) + timedelta(seconds=expires_in)
        await self._run(
            'INSERT INTO auth.login_session (sid, "ownerId", "validUntil") VALUES ($1, $2, $3)',
            sid,
            user_id,
            expires,
        )
        return sid

    async def end(self, sid: str) -> None:
        await self._run("DELETE FROM auth.login_session WHERE sid = $1", sid)


@pytest.fixture(scope="module")
async def sessions() -> AsyncIterator[Sessions]:
    url = await databases.create_database("sessions")
    table = Sessions(url)
    await table._run("CREATE SCHEMA auth")
    await table._run(
        'CREATE TABLE auth.login_session (sid text PRIMARY KEY, "ownerId" text NOT NULL, '
        '"validUntil" timestamptz NOT NULL)'
    )
    yield table
    await databases.drop_database(url)


@pytest.fixture
async def taskql(build_app: AppFactory, sessions: Sessions, session_clock: FakeClock) -> RunningApp:
    return await build_app(
        better_auth_database_url=sessions.url, session_check_seconds=BOUND, **CUSTOM
    )


def lookups(taskql: RunningApp) -> list[str]:
    """Every statement taskql sends to the session database from now on."""
    engine = taskql.app.state.services.better_auth_sessions.database.engine.sync_engine
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    return sent


async def me(taskql: RunningApp, token: str) -> httpx.Response:
    return await taskql.me(token)


async def test_a_live_session_is_served_and_refused_once_ended_within_the_bound(
    taskql: RunningApp, sessions: Sessions, session_clock: FakeClock
) -> None:
    sid = await sessions.open("alice")
    token = hs256_token("alice", sid=sid)
    assert (await me(taskql, token)).status_code == 200

    await sessions.end(sid)
    session_clock.advance(BOUND - 0.5)
    assert (await me(taskql, token)).status_code == 200  # the answer is still fresh
    session_clock.advance(0.5)

    assert unauthenticated(await me(taskql, token)) == REVOKED


async def test_a_session_that_expires_is_refused_at_its_expiry_without_a_lookup(
    taskql: RunningApp, sessions: Sessions, session_clock: FakeClock
) -> None:
    sid = await sessions.open("alice", expires_in=60)
    token = hs256_token("alice", sid=sid, ttl=3600)
    assert (await me(taskql, token)).status_code == 200
    sent = lookups(taskql)
    session_clock.advance(61)
    assert unauthenticated(await me(taskql, token)) == REVOKED
    assert len(sent) == 1  # past the bound, looked up once; the row says it expired


async def test_a_session_of_another_user_is_refused(taskql: RunningApp, sessions: Sessions) -> None:
    sid = await sessions.open("bob")
    assert unauthenticated(await me(taskql, hs256_token("alice", sid=sid))) == REVOKED
    assert (await me(taskql, hs256_token("bob", sid=sid))).status_code == 200


async def test_many_requests_of_one_session_cost_one_lookup_per_bound(
    taskql: RunningApp, sessions: Sessions, session_clock: FakeClock
) -> None:
    sid = await sessions.open("alice")
    token = hs256_token("alice", sid=sid)
    sent = lookups(taskql)

    answers = await asyncio.gather(*(me(taskql, token) for _ in range(30)))
    for _ in range(10):
        await me(taskql, token)

    assert [response.status_code for response in answers] == [200] * 30
    assert len(sent) == 1
    session_clock.advance(BOUND)
    await me(taskql, token)
    assert len(sent) == 2


async def test_misses_that_arrive_together_are_looked_up_in_one_batch(
    taskql: RunningApp, sessions: Sessions
) -> None:
    users = [f"user-{index}" for index in range(30)]
    tokens = [hs256_token(user, sid=await sessions.open(user)) for user in users]
    sent = lookups(taskql)

    answers = await asyncio.gather(*(me(taskql, token) for token in tokens))

    assert [response.status_code for response in answers] == [200] * 30
    assert 1 <= len(sent) <= 3, sent  # one statement for a moment's misses, not one each


async def test_sessions_in_use_are_refreshed_together_before_they_go_stale(
    taskql: RunningApp, sessions: Sessions, session_clock: FakeClock
) -> None:
    """What keeps lookups off the request path at load: one statement per half bound for
    every session in use, and requests that then find fresh answers. Ends are still seen."""
    users = [f"user-{index}" for index in range(30)]
    tokens = {user: hs256_token(user, sid=await sessions.open(user)) for user in users}
    for token in tokens.values():
        assert (await me(taskql, token)).status_code == 200
    check = taskql.app.state.services.verifier.sessions
    sent = lookups(taskql)
    await sessions.end(tokens_sid(tokens["user-0"]))

    session_clock.advance(BOUND / 2)
    await check.refresh_active()
    session_clock.advance(BOUND / 2)
    answers = [await me(taskql, token) for token in tokens.values()]

    assert len(sent) == 1  # the refresh, for all 30; no request waited for a lookup
    assert unauthenticated(answers[0]) == REVOKED
    assert [response.status_code for response in answers[1:]] == [200] * 29
    await check.refresh_active()  # used again, half a bound old: refreshed, together again
    assert len(sent) == 2
    await check.refresh_active()  # nobody asked since: nothing to look up
    assert len(sent) == 2


def tokens_sid(token: str) -> str:
    return str(decode_unverified(token)[1]["sid"])


async def test_an_ended_session_is_not_looked_up_again_within_the_bound(
    taskql: RunningApp, sessions: Sessions
) -> None:
    token = hs256_token("alice", sid="never-was")
    sent = lookups(taskql)
    for _ in range(5):
        assert unauthenticated(await me(taskql, token)) == REVOKED
    assert len(sent) == 1


async def test_a_token_without_sid_passes_the_check_unless_one_is_required(
    taskql: RunningApp, build_app: AppFactory
) -> None:
    assert (await me(taskql, hs256_token("alice"))).status_code == 200
    strict = await build_app(require_session_id=True)
    reason, message = unauthenticated(await me(strict, hs256_token("alice")))
    assert (reason, message) == ("bad_claims", "Invalid token: sid claim missing")
    # Required but not checked (no BETTER_AUTH_DATABASE_URL): a sid is enough.
    assert (await me(strict, hs256_token("alice", sid="s-1"))).status_code == 200


@pytest.mark.parametrize(
    ("sid", "detail"),
    [
        (42, "sid must be a non-empty string"),
        ("", "sid must be a non-empty string"),
        (["s"], "sid must be a non-empty string"),
        ("s" * 256, "sid is not a usable session id"),
        ("line\nbreak", "sid is not a usable session id"),
    ],
)
async def test_a_sid_that_cannot_name_a_session_is_bad_claims(
    taskql: RunningApp, sid: object, detail: str
) -> None:
    reason, message = unauthenticated(await me(taskql, hs256_token("alice", sid=sid)))
    assert (reason, message) == ("bad_claims", f"Invalid token: {detail}")


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("better_auth_session_table", 'session"; DROP TABLE tasks; --'),
        ("better_auth_session_table", "a.b.c"),
        ("better_auth_session_id_column", "auth.id"),
        ("better_auth_session_expires_at_column", ""),
    ],
)
def test_a_session_table_or_column_that_is_not_a_name_fails_at_startup(
    setting: str, value: str
) -> None:
    with pytest.raises(ValidationError, match="is not a table or column name"):
        make_settings("sqlite+aiosqlite:///:memory:", **{setting: value})


def test_a_bad_better_auth_database_url_is_named_without_its_password() -> None:
    with pytest.raises(ValidationError) as refused:
        make_settings(
            "sqlite+aiosqlite:///:memory:",
            better_auth_database_url="mysql://user:hunter2-secret@db/auth",
        )
    assert "BETTER_AUTH_DATABASE_URL scheme 'mysql' is not supported" in str(refused.value)
    assert "hunter2" not in str(refused.value)
