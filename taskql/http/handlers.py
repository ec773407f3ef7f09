"""The app's exception handlers (AuthError → 401, HTTPException → FastAPI's JSON, ...), looked up
and run as Starlette's ExceptionMiddleware would, by the edge (taskql.http.edge)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException, WebSocketException
from starlette.requests import HTTPConnection
from starlette.types import ExceptionHandler, Receive, Send
from starlette.websockets import WebSocket

Handlers = tuple[dict[Any, ExceptionHandler], dict[int, ExceptionHandler]]


def handler_tables(registered: Mapping[Any, ExceptionHandler]) -> Handlers:
    """ExceptionMiddleware's tables: Starlette's default for WebSocketException, then the app's
    (FastAPI's own, which include HTTPException's, and ours). A handler for 500 or Exception
    would be ServerErrorMiddleware's: the masked 500 stands in its place."""
    exceptions: dict[Any, ExceptionHandler] = {WebSocketException: _close_websocket}
    statuses: dict[int, ExceptionHandler] = {}
    for key, handler in registered.items():
        if key in (500, Exception):
            continue
        if isinstance(key, int):
            statuses[key] = handler
        else:
            exceptions[key] = handler
    return exceptions, statuses


def handler_for(handlers: Handlers, exc: Exception) -> ExceptionHandler | None:
    exceptions, statuses = handlers
    if isinstance(exc, HTTPException) and exc.status_code in statuses:
        return statuses[exc.status_code]
    for kind in type(exc).__mro__:
        if kind in exceptions:
            return exceptions[kind]
    return None


async def handle(
    handler: ExceptionHandler,
    connection: HTTPConnection,
    receive: Receive,
    send: Send,
    exc: Exception,
) -> None:
    if inspect.iscoroutinefunction(handler):
        response = await handler(connection, exc)  # type: ignore[arg-type]
    else:
        response = await run_in_threadpool(handler, connection, exc)  # type: ignore[arg-type]
    if response is not None:
        await response(connection.scope, receive, send)
    exc.__traceback__ = None  # a reused exception instance would grow its traceback


async def _close_websocket(connection: HTTPConnection, exc: Exception) -> None:
    assert isinstance(exc, WebSocketException)  # noqa: S101 - registered for it only
    assert isinstance(connection, WebSocket)  # noqa: S101
    await connection.close(code=exc.code, reason=exc.reason)
