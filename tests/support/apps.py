"""taskql apps in their lifespan, each with an httpx client over ASGI: the real app, no sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI

from auth.jwks import JWKSClient
from taskql.app import create_app
from taskql.settings import Settings
from tests.support.graphql import gql
from tests.support.operations import ME
from tests.support.tokens import TEST_SECRET


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Development settings with the tests' HS256 secret and no .env, then `overrides`."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "better_auth_secret": TEST_SECRET,
        "better_auth_url": None,
        "taskql_env": "development",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class RunningApp:
    """An app inside its lifespan, with a client that speaks to it over ASGI."""

    app: FastAPI
    client: httpx.AsyncClient

    @property
    def jwks(self) -> JWKSClient:
        jwks: JWKSClient | None = self.app.state.services.jwks
        assert jwks is not None, "this app has no JWKS configured"
        return jwks

    async def query(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> httpx.Response:
        return await gql(self.client, query, variables, token=token)

    async def me(self, token: str) -> httpx.Response:
        return await self.query(ME, token=token)


T = TypeVar("T")
AppFactory = Callable[..., Awaitable[RunningApp]]
ClientFactory = Callable[..., Awaitable[httpx.AsyncClient]]  # `await make_client(**settings)`


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[RunningApp]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://taskql.test") as http:
            yield RunningApp(app, http)


@asynccontextmanager
async def factory(
    open_one: Callable[[Settings], AbstractAsyncContextManager[T]],
    default_database: Callable[[], str],
) -> AsyncIterator[Callable[..., Awaitable[T]]]:
    """`await build(database_url=None, **settings)`: as many of what `open_one` opens (an app,
    a server) as a test wants, all closed at its end; each without a database_url gets one from
    `default_database()`."""
    async with AsyncExitStack() as stack:

        async def build(database_url: str | None = None, **overrides: Any) -> T:
            settings = make_settings(database_url or default_database(), **overrides)
            return await stack.enter_async_context(open_one(settings))

        yield build
