"""Async engine and sessions: one pool per process, one session per request, always closed."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from db.pool import FairAsyncPool

logger = logging.getLogger(__name__)
_RETURNED_AT = "taskql_returned_at"


@dataclass(frozen=True, slots=True)
class PoolOptions:
    size: int = 10
    max_overflow: int = 10
    timeout: float = 5.0
    connect_timeout: float = 5.0
    statement_timeout: float = 15.0
    ping_after_idle: float = 5.0  # 0 pings a pooled connection at every checkout
    overflow_idle: float = 60.0  # connections beyond `size` close after this long unused


def create_engine(url: str, pool: PoolOptions | None = None) -> AsyncEngine:
    pool = pool or PoolOptions()
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": pool.timeout})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "connect", _sqlite_unicode_lower)
        return engine
    connect_args: dict[str, Any] = {
        "timeout": pool.connect_timeout,
        "command_timeout": pool.statement_timeout,
        "server_settings": {
            "statement_timeout": str(int(pool.statement_timeout * 1000)),
            "application_name": "taskql",
        },
    }
    engine = create_async_engine(
        url,
        pool_size=pool.size,
        max_overflow=pool.max_overflow,
        pool_timeout=pool.timeout,
        pool_recycle=1800,
        poolclass=type(
            "TaskqlPool", (FairAsyncPool,), {"overflow_idle_seconds": pool.overflow_idle}
        ),
        connect_args=connect_args,
    )
    _ping_idle_connections(engine, pool.ping_after_idle)
    return engine


def _ping_idle_connections(engine: AsyncEngine, idle_seconds: float) -> None:
    """Pessimistic disconnect handling, priced for a busy server.

    SQLAlchemy's pool_pre_ping costs three round trips per checkout with asyncpg (BEGIN, ping,
    ROLLBACK), as many as a read itself. A connection that was in use moments ago is alive, so
    only one idle for longer is pinged; a dead one is replaced before any request sees it. One
    that died within the idle window fails its request with SERVICE_UNAVAILABLE and is dropped.
    """
    pool = engine.sync_engine.pool

    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED_AT)
        if returned is None or time.monotonic() - returned < idle_seconds:
            return  # just connected, or just used
        try:
            dbapi_connection.ping()
        except Exception as exc:
            raise DisconnectionError("pooled connection is gone") from exc  # pool retries

    event.listen(pool, "checkin", checked_in)
    event.listen(pool, "checkout", checked_out)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the single writer; busy_timeout waits instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_unicode_lower(dbapi_connection: Any, _record: Any) -> None:
    # Search is ILIKE, which SQLAlchemy writes for SQLite as lower(x) LIKE lower(y); SQLite's own
    # lower() folds ASCII only, so `ärger` would miss `Ärger`. PostgreSQL's ILIKE lowers both
    # sides too, with its lower(): replacing SQLite's makes the two databases find the same rows.
    dbapi_connection.create_function("lower", 1, _postgres_lower, deterministic=True)


# Where str.lower() is not one code point to one: PostgreSQL (libc) maps İ to a plain i.
_LOWER_ONE = {"\u0130": "i"}


def _postgres_lower(value: object) -> object:
    """PostgreSQL's lower() with a libc locale: each code point to its simple lowercase.

    That differs from str.lower() in two places only: a final Σ stays σ (no ς), and İ becomes
    i (not i + U+0307). Both are rare, so the per-character way runs only when they may occur.
    (Checked against PostgreSQL 15 in C.UTF-8 for every code point; an ICU locale would lower
    those two as str.lower() does.)
    """
    if not isinstance(value, str):
        return value  # NULL stays NULL; numbers have no case
    lowered = value.lower()
    if len(lowered) == len(value) and "ς" not in lowered:
        return lowered
    return "".join(_LOWER_ONE.get(char) or char.lower() for char in value)


@asynccontextmanager
async def read_connection(
    source: AsyncSession | AsyncConnection | AsyncEngine,
) -> AsyncIterator[AsyncConnection]:
    """A connection for read-only statements (each sees its own snapshot anyway).

    A connection is used as it is, and a session already in a transaction lends its own, so
    the read sees that transaction's writes. Otherwise a pooled connection in autocommit,
    returned as soon as the read is done: no BEGIN and ROLLBACK round trips, and no ORM session
    machinery.
    """
    if isinstance(source, AsyncConnection):
        yield source
        return
    if isinstance(source, AsyncEngine):
        engine = source
    else:
        bind = source.bind
        if source.in_transaction() or not isinstance(bind, AsyncEngine):
            yield await source.connection()
            return
        engine = bind
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


class Database:
    """The engine and its session factory, created once at startup and disposed at shutdown."""

    def __init__(self, url: str, pool: PoolOptions | None = None) -> None:
        self.url = url
        self.pool = pool or PoolOptions()
        self.engine = create_engine(url, self.pool)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._attempts: set[asyncio.Task[None]] = set()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """The one way to a session: closed when the block (or the request) ends."""
        async with self._sessions() as session:
            yield session

    async def ping(self) -> None:
        """SELECT 1 within the connect timeout: a readiness probe must answer even when the
        database hangs, so a late attempt is left to clean up (close its socket) on its own."""
        attempt = asyncio.create_task(self._select_one())
        self._attempts.add(attempt)
        attempt.add_done_callback(self._forget)
        done, _ = await asyncio.wait({attempt}, timeout=self.pool.connect_timeout)
        if not done:
            attempt.cancel()
            raise TimeoutError("the database did not answer in time")
        attempt.result()

    async def _select_one(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    def _forget(self, attempt: asyncio.Task[None]) -> None:
        self._attempts.discard(attempt)
        if not attempt.cancelled():
            attempt.exception()  # retrieved, so asyncio does not log it as never retrieved

    def connections_in_use(self) -> int:
        checked_out = getattr(self.engine.pool, "checkedout", None)
        return int(checked_out()) if callable(checked_out) else 0

    async def dispose(self) -> None:
        """Closes the pool; bounded, since closing politely waits on a database that may hang."""
        try:
            async with asyncio.timeout(self.pool.connect_timeout):
                await self.engine.dispose()
        except TimeoutError:
            logger.warning("database pool did not close in time; its connections die with us")
