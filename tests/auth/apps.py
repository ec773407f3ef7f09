"""Running taskql apps for auth tests: a real app, its lifespan, and an HTTP client on it."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from auth.jwks import JWKSClient
from taskql.app import create_app
from taskql.settings import Settings
from tests.conftest import make_settings
from tests.graphql import gql

ME = "{ me { id email name } }"
INTROSPECTION = "{ __schema { queryType { name } } }"
TASKS = "query ($userId: ID!) { tasks(userId: $userId) { total items { title userId } } }"
CREATE = (
    "mutation ($userId: ID!, $title: String!) "
    "{ createTask(userId: $userId, input: {title: $title}) { id userId title } }"
)


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


AppFactory = Callable[..., Awaitable[RunningApp]]


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[RunningApp]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://taskql.test") as http:
            yield RunningApp(app, http)


@asynccontextmanager
async def app_factory(default_database_url: str) -> AsyncIterator[AppFactory]:
    """`await build(**settings)`: as many apps as a test wants, all closed at its end."""
    async with AsyncExitStack() as stack:

        async def build(database_url: str | None = None, **overrides: Any) -> RunningApp:
            settings = make_settings(database_url or default_database_url, **overrides)
            return await stack.enter_async_context(running_app(settings))

        yield build


def sqlite_copy(template: Path, directory: Path) -> str:
    target = directory / "taskql.db"
    shutil.copy(template, target)
    return f"sqlite+aiosqlite:///{target}"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64json(value: object) -> str:
    return b64(json.dumps(value).encode())


def segments(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    padded = [part + "=" * (-len(part) % 4) for part in (header, payload)]
    return (
        json.loads(base64.urlsafe_b64decode(padded[0])),
        json.loads(base64.urlsafe_b64decode(padded[1])),
        signature,
    )


def unauthenticated(response: httpx.Response) -> tuple[str, str]:
    """(reason, message) of a 401, after checking the parts every 401 shares."""
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    errors = response.json()["errors"]
    assert len(errors) == 1
    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert response.json().get("data") is None
    return errors[0]["extensions"]["reason"], errors[0]["message"]
