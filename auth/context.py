"""The GraphQL context and its loader: the token is verified once per request, here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.requests import HTTPConnection
from strawberry.fastapi import BaseContext

from auth.bearer import bearer_token, only_header
from auth.permissions import unauthenticated_error
from auth.user import AuthenticatedUser
from db.session import Database


class Verifier(Protocol):
    async def verify(self, token: str) -> AuthenticatedUser: ...


@dataclass
class Context(BaseContext):
    """What every resolver sees: the verified user (or None) and a lazily opened session."""

    database: Database
    verifier: Verifier
    user: AuthenticatedUser | None = None
    request_id: str | None = None
    _session: AsyncSession | None = field(default=None, repr=False)
    _session_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    def __post_init__(self) -> None:
        super().__init__()

    @property
    def viewer(self) -> AuthenticatedUser:
        """The signed-in user; IsOwner guarantees one before any task resolver runs."""
        if self.user is None:
            raise unauthenticated_error()
        return self.user

    @property
    def db(self) -> AsyncSession:
        """The request's session, opened on first use (use `session()` to run statements)."""
        if self._session is None:
            self._session = self.database.sessions()
        return self._session

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """The request's one session, lent to one resolver at a time.

        graphql-core resolves a query's root fields concurrently, and an AsyncSession must not be
        used by two coroutines at once.
        """
        async with self._session_lock:
            yield self.db

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncSession | AsyncEngine]:
        """What a read-only resolver reads through (see `db.session.read_connection`): the
        request's session once it holds a transaction, so the read sees the request's writes;
        else the engine, so a read opens no session at all. One resolver at a time, too."""
        async with self._session_lock:
            session = self._session
            yield (
                session
                if session is not None and session.in_transaction()
                else self.database.engine
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def context_loader(
    database: Database, verifier: Verifier
) -> Callable[[HTTPConnection], AsyncIterator[Context]]:
    """A FastAPI dependency: a bad Authorization header rejects the whole request (AuthError)."""

    async def load(connection: HTTPConnection) -> AsyncIterator[Context]:
        context = Context(
            database=database,
            verifier=verifier,
            request_id=connection.scope.get("state", {}).get("request_id"),
        )
        if connection.scope["type"] == "http":
            token = bearer_token(only_header(connection.headers.getlist("authorization")))
            if token is not None:
                context.user = await verifier.verify(token)
        try:
            yield context
        finally:
            await context.close()

    return load
