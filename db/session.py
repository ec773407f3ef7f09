"""Async engine and sessions: one pool per process, one session per request, always closed."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect, event, text
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
    # "pgbouncer": DATABASE_URL is PgBouncer in transaction mode (see _transaction_pooled).
    pooler: str | None = None


# Marks an engine whose reads must run in a transaction (read_connection honours it).
_READS_IN_TRANSACTIONS = "taskql_reads_in_transactions"


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
    options: dict[str, Any] = {}
    if pool.pooler == "pgbouncer":
        connect_args = _transaction_pooled(connect_args)
        options[_READS_IN_TRANSACTIONS] = True
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
        execution_options=options,
    )
    _ping_idle_connections(engine, pool.ping_after_idle)
    event.listen(engine.sync_engine, "do_connect", _connect_or_unavailable)
    return engine


class ConnectFailed(ConnectionError):
    """A connection to the database could not be established, for whatever reason (refused,
    reset, authentication, a startup parameter, TLS, a timeout): the database is unavailable
    to us (SPEC §3: 503, retry), not a bug of the request's."""


def _connect_or_unavailable(
    dialect: Dialect, _record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]
) -> Any:
    # SQLAlchemy's do_connect hook: the connection it would have made, or one error that says
    # what happened. asyncpg raises a dozen types here, and a rejected startup parameter or
    # password would otherwise surface as a ProgrammingError: a 500 for a database outage.
    try:
        return dialect.connect(*cargs, **cparams)
    except Exception as exc:
        raise ConnectFailed(f"could not connect to the database ({type(exc).__name__})") from exc


def _transaction_pooled(connect_args: dict[str, Any]) -> dict[str, Any]:
    """Connections safe behind PgBouncer in transaction mode, where each transaction may run
    on another server connection: nothing may outlive a transaction.

    No startup parameters (PgBouncer refuses `statement_timeout` there; asyncpg's
    command_timeout still bounds every statement, cancelling it on the server when it runs
    late), no prepared-statement caches (a statement prepared on one server connection is
    unknown on the next), unique names for the statements asyncpg prepares within one, and
    reads inside a transaction (read_connection): an autocommit read's Parse and Bind may
    reach two server connections, and fail with "prepared statement ... does not exist".
    """
    return {
        "timeout": connect_args["timeout"],
        "command_timeout": connect_args["command_timeout"],
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": _statement_name,
    }


def _statement_name() -> str:
    return f"__taskql_{uuid.uuid4().hex}__"


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
        if not engine.get_execution_options().get(_READS_IN_TRANSACTIONS):
            await connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection  # else SQLAlchemy begins at the first statement, rolls back at the end


@asynccontextmanager
async def autocommit_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection whose statements each commit as they run, for small writes that others
    must see at once (an Idempotency-Key's claim): no BEGIN and COMMIT round trips. Where
    autocommit is unsafe (PgBouncer in transaction mode, see _transaction_pooled) the
    statements run in one transaction instead, committed when the block ends."""
    if engine.get_execution_options().get(_READS_IN_TRANSACTIONS):
        async with engine.begin() as connection:
            yield connection
        return
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
