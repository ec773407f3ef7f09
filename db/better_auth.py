"""Better Auth's `session` table, read-only: which of some session ids are alive, and whose.

Better Auth owns the table (its own migrations make it, often in the same PostgreSQL); taskql
only reads three columns of it. The names are Better Auth's defaults unless its
`session.modelName` / `session.fields` renamed them, which settings then name too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnClause, Select, Text, any_, bindparam, column, select, table
from sqlalchemy.dialects.postgresql import ARRAY

from db.session import Database, PoolOptions


@dataclass(frozen=True, slots=True)
class SessionTable:
    """Where the sessions are: `name` may be `schema.table`."""

    name: str = "session"
    id: str = "id"
    user_id: str = "userId"
    expires_at: str = "expiresAt"

    def lookup(self, *, postgres: bool) -> Select[Any]:
        """The alive-or-not statement for a batch of ids, bound as `ids`; SQLAlchemy quotes
        every name (Better Auth's are camelCase), so no name is pasted into SQL text. On
        PostgreSQL the ids travel as one array (`= ANY($1)`): one statement text for every
        batch size, and no hundreds of parameters to bind."""
        schema, _, name = self.name.rpartition(".")
        columns: tuple[ColumnClause[Any], ...] = (
            column(self.id),
            column(self.user_id),
            column(self.expires_at),
        )
        sessions = table(name, *columns, schema=schema or None)
        wanted = (
            columns[0] == any_(bindparam("ids", type_=ARRAY(Text())))
            if postgres
            else columns[0].in_(bindparam("ids", expanding=True))
        )
        return select(*columns).select_from(sessions).where(wanted)


@dataclass(frozen=True, slots=True)
class SessionRow:
    user_id: str
    expires_at: float  # POSIX seconds


class BetterAuthSessions:
    """Reads Better Auth's database; every lookup is bounded by the connect timeout."""

    def __init__(self, url: str, sessions: SessionTable, *, timeout: float) -> None:
        pool = PoolOptions(  # a handful: one batched lookup per few hundred sessions
            size=2,
            max_overflow=3,
            timeout=timeout,
            connect_timeout=timeout,
            statement_timeout=timeout,
        )
        self.database = Database(url, pool)
        self._statement = sessions.lookup(postgres=not url.startswith("sqlite"))
        self._timeout = timeout

    async def fetch(self, ids: Sequence[str]) -> Mapping[str, SessionRow]:
        """The rows of those of `ids` that exist (however expired); raises when unreachable."""
        # In a transaction (SQLAlchemy begins one): safe behind PgBouncer's transaction mode.
        async with asyncio.timeout(self._timeout), self.database.engine.connect() as connection:
            result = await connection.execute(self._statement, {"ids": list(ids)})
            rows = result.all()
        return {
            str(session_id): SessionRow(str(user_id), _seconds(expires_at))
            for session_id, user_id, expires_at in rows
            if session_id is not None and user_id is not None
        }

    async def dispose(self) -> None:
        await self.database.dispose()


def _seconds(value: object) -> float:
    """`expiresAt` as POSIX seconds, as each of Better Auth's adapters stores it: a timestamp
    (timestamptz, or a naive one meaning UTC), an ISO string (SQLite) or epoch milliseconds."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / 1000
    return 0.0  # no usable expiry: treat as ended, never as eternal
