"""The GraphQL context: what every resolver sees, assembled once per request or socket.

auth/ verifies the Authorization header; this layer adds the request's database handles and the
event hub, so resolvers need nothing else.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.requests import HTTPConnection
from strawberry.fastapi import BaseContext

from auth.bearer import authorization_token
from auth.permissions import unauthenticated_error
from auth.user import AuthenticatedUser
from db.session import Database
from resolvers.events import EventHub


class Verifier(Protocol):
    async def verify(self, token: str) -> AuthenticatedUser: ...

    async def check_session(
        self, user: AuthenticatedUser, *, max_age: float | None = None
    ) -> None: ...

    @property
    def session_check_seconds(self) -> float | None: ...


@dataclass
class Context(BaseContext):
    """The verified user (or None), where to read and write, and where events go."""

    database: Database
    verifier: Verifier
    events: EventHub
    user: AuthenticatedUser | None = None
    request_id: str | None = None
    _session: AsyncSession | None = field(default=None, repr=False)
    _closing: AsyncExitStack | None = field(default=None, repr=False)
    _session_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    def __post_init__(self) -> None:
        super().__init__()

    @property
    def viewer(self) -> AuthenticatedUser:
        """The signed-in user; IsOwner guarantees one before any task resolver runs."""
        if self.user is None:
            raise unauthenticated_error()
        return self.user

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """The request's one session, opened on first use and lent to one resolver at a time:
        graphql-core resolves a query's root fields concurrently, and an AsyncSession must not
        be used by two coroutines at once."""
        async with self._session_lock:
            if self._session is None:
                self._closing = AsyncExitStack()
                self._session = await self._closing.enter_async_context(self.database.session())
            yield self._session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession | AsyncEngine]:
        """What a read goes through (see `db.session.read_connection`): the request's session
        once it holds a transaction, so the read sees the request's writes; else the engine,
        so a read opens no session at all. One resolver at a time, too."""
        async with self._session_lock:
            session = self._session
            yield (
                session
                if session is not None and session.in_transaction()
                else self.database.engine
            )

    async def close(self) -> None:
        if self._closing is not None:
            await self._closing.aclose()
            self._session = self._closing = None


def context_loader(
    database: Database, verifier: Verifier, events: EventHub
) -> Callable[[HTTPConnection], AsyncIterator[Context]]:
    """Builds each request's context; a bad Authorization header rejects it whole (AuthError).

    A WebSocket's token arrives later, in connection_init (taskql.live.websocket)."""

    async def load(connection: HTTPConnection) -> AsyncIterator[Context]:
        context = Context(
            database=database,
            verifier=verifier,
            events=events,
            request_id=connection.scope.get("state", {}).get("request_id"),
        )
        if connection.scope["type"] == "http":
            token = authorization_token(connection.headers.getlist("authorization"))
            if token is not None:
                context.user = await verifier.verify(token)
        try:
            yield context
        finally:
            await context.close()

    return load
