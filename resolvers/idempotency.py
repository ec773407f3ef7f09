"""Idempotency-Keys (SPEC §8): a key is claimed while its request runs, then holds the response
that committed with the request's writes; expired ones are swept off the request path."""

from __future__ import annotations

import enum
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import bindparam, delete, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db.models import IdempotencyKey, utcnow
from db.session import autocommit_connection
from resolvers.housekeeping import Periodic

logger = logging.getLogger("taskql.idempotency")

# How long a claim holds its key. Only liveness depends on it: a claim older than this (its
# replica crashed, or the request is still stuck) is taken over, and the request that loses its
# claim so commits nothing. Far beyond what a request takes (each wait and statement is bounded
# by the DB_* timeouts), short enough that a client retrying after a crash is served soon.
CLAIM_SECONDS = 60.0
SWEEP_SECONDS = 60.0  # how often expired keys are deleted
SWEEP_BATCH = 1000  # rows per DELETE, so a sweep never holds many locks for long

# The table's columns, not the ORM class's: Core statements skip the ORM's compile and execute
# machinery, about a tenth of a request's instructions here.
_TABLE = IdempotencyKey.metadata.tables[IdempotencyKey.__tablename__]
_K = _TABLE.c
# Parameters are named apart from the columns: SQLAlchemy keeps those names for SET and VALUES.
_THIS_KEY = (_K.user_id == bindparam("owner"), _K.key == bindparam("the_key"))
_MINE = (*_THIS_KEY, _K.claim == bindparam("held"))
_READ = select(_K.fingerprint, _K.claim, _K.expires_at, _K.status, _K.headers, _K.body).where(
    *_THIS_KEY
)
# A dead key (its claim or its response expired) goes to whoever swaps its claim first.
_TAKE_OVER = (
    update(_TABLE)
    .where(*_MINE, _K.expires_at <= bindparam("now"))
    .values(
        fingerprint=bindparam("digest"),
        claim=bindparam("new_claim"),
        expires_at=bindparam("until"),
        status=None,
        headers=None,
        body=None,
    )
)
_COMPLETE = (
    update(_TABLE)
    .where(*_MINE, _K.status.is_(None))
    .values(
        status=bindparam("sent_status"),
        headers=bindparam("sent_headers"),
        body=bindparam("sent_body"),
        expires_at=bindparam("until"),
    )
)
_RELEASE = delete(_TABLE).where(*_MINE, _K.status.is_(None))


def _claim_statement(dialect: Any) -> Any:
    insert = postgresql.insert if dialect is postgresql else sqlite.insert
    return (
        insert(_TABLE)
        .values(
            user_id=bindparam("owner"),
            key=bindparam("the_key"),
            fingerprint=bindparam("digest"),
            claim=bindparam("new_claim"),
            expires_at=bindparam("until"),
        )
        .on_conflict_do_nothing(index_elements=[_K.user_id, _K.key])
        .returning(_K.claim)
    )


_CLAIM = {"postgresql": _claim_statement(postgresql), "sqlite": _claim_statement(sqlite)}


class Refused(enum.Enum):
    IN_USE = "IN_USE"  # the first request with this key is still running
    REUSED = "REUSED"  # the key was used for a different request


@dataclass(frozen=True, slots=True)
class Stored:
    """A response as it was sent, to be sent again byte for byte."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True, slots=True)
class Claim:
    """This request holds the key: only it may complete or release it."""

    user_id: str
    key: str
    token: str

    def params(self, **more: Any) -> dict[str, Any]:
        return {"owner": self.user_id, "the_key": self.key, "held": self.token, **more}


class KeyStore:
    """The idempotency_keys table, through the engine (claims) and a request's session (the
    response, committed with the writes)."""

    def __init__(self, engine: AsyncEngine, ttl_seconds: float) -> None:
        self.engine = engine
        self.ttl = timedelta(seconds=ttl_seconds)
        self.lease = timedelta(seconds=CLAIM_SECONDS)
        self._claim = _CLAIM[engine.dialect.name]

    async def claim(self, user_id: str, key: str, fingerprint: str) -> Claim | Stored | Refused:
        """Claim the key for a request, or say why not: its response, or a refusal.

        Committed at once, apart from the request's transaction, so a concurrent duplicate
        sees the claim (and a takeover is one compare-and-swap statement).
        """
        for _ in range(3):  # a dead key swapped or swept under us: look again
            now, token = utcnow(), secrets.token_hex(16)
            params: dict[str, Any] = {"owner": user_id, "the_key": key, "digest": fingerprint}
            params |= {"new_claim": token, "until": now + self.lease}
            async with autocommit_connection(self.engine) as connection:
                claimed = await connection.scalar(self._claim, params)
                if claimed is not None:
                    return Claim(user_id, key, token)
                row = (await connection.execute(_READ, params)).first()
                if row is None:
                    continue  # swept since
                if row.expires_at > now:
                    return _verdict(row, fingerprint)
                taken = await connection.execute(
                    _TAKE_OVER, {**params, "held": row.claim, "now": now}
                )
                if taken.rowcount == 1:
                    return Claim(user_id, key, token)
        return Refused.IN_USE

    async def complete(self, session: AsyncSession, claim: Claim, response: Stored) -> bool:
        """Write the response into the session's transaction, to commit with its writes;
        False if the claim was lost (taken over as dead), and then nothing may commit."""
        connection = await session.connection()  # the request's transaction, as a plain connection
        result = await connection.execute(
            _COMPLETE,
            claim.params(
                sent_status=response.status,
                sent_headers=orjson.dumps(response.headers).decode(),
                sent_body=response.body,
                until=utcnow() + self.ttl,
            ),
        )
        return result.rowcount == 1

    async def release(self, claim: Claim) -> None:
        """Give the key up (the request stored nothing), so a retry runs it afresh. If this
        fails too, the claim dies at its lease."""
        try:
            async with autocommit_connection(self.engine) as connection:
                await connection.execute(_RELEASE, claim.params())
        except Exception as exc:  # the database may be why the request failed
            logger.warning("idempotency: could not release a key (%s)", type(exc).__name__)

    async def purge_expired(self, now: datetime | None = None, batch: int = SWEEP_BATCH) -> int:
        """Delete expired keys, `batch` rows per statement; how many were deleted."""
        now = now or utcnow()
        expired = (_K.expires_at <= now,)
        doomed = select(_K.user_id, _K.key).where(*expired).limit(batch)
        # Expiry checked again on the row itself: a key taken over meanwhile is alive again.
        statement = delete(_TABLE).where(tuple_(_K.user_id, _K.key).in_(doomed), *expired)
        total = 0
        while True:
            async with autocommit_connection(self.engine) as connection:
                deleted = (await connection.execute(statement)).rowcount
            total += deleted
            if deleted < batch:
                return total


def _verdict(row: Any, fingerprint: str) -> Stored | Refused:
    if row.fingerprint != fingerprint:
        return Refused.REUSED
    if row.status is None:
        return Refused.IN_USE
    headers = [(str(name), str(value)) for name, value in orjson.loads(row.headers or "[]")]
    return Stored(int(row.status), headers, bytes(row.body or b""))


def sweeper(store: KeyStore) -> Periodic:
    """Deletes expired keys every SWEEP_SECONDS, in the background, for the app's lifetime."""
    return Periodic("idempotency-sweep", store.purge_expired, SWEEP_SECONDS)
