"""The edge: the one ASGI layer every request passes, in place of a stack of middlewares.

Per HTTP request it takes the X-Request-ID (the client's when sane, else made up) and echoes it,
adds the CORS headers, counts and times the body (413, 408), writes the access log line and the
metrics sample (499 when the client left first), and answers anything unexpected with the
contract's masked INTERNAL_SERVER_ERROR JSON, logged with the request id (SPEC §3). The exception
handlers (AuthError → 401, ...) run here too, so Starlette's ServerErrorMiddleware and
ExceptionMiddleware and FastAPI's AsyncExitStackMiddleware are not on the hot path: each wrapped
`send` and built objects per request. Routes the router would pick by path and method alone
(POST /graphql) are found at startup (taskql.http.routes); the rest go through the router.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Mapping
from contextlib import AsyncExitStack
from random import getrandbits
from time import perf_counter
from typing import Any

from fastapi import FastAPI
from starlette.requests import HTTPConnection, Request
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from contract.errors import Code, Refusal, note_outcome
from taskql.http import body_limit
from taskql.http.body_limit import Body, BodyStalled, BodyTooLarge
from taskql.http.cors import Cors, RawHeaders, merge
from taskql.http.handlers import handle, handler_for, handler_tables
from taskql.http.media import JSON
from taskql.http.observability import STATE_KEY, Observation, Observer
from taskql.http.routes import direct_routes

logger = logging.getLogger("taskql.errors")
_SAFE = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")
_REQUEST_ID = b"x-request-id"
_INTERNAL_ERROR_CLOSE = 1011  # RFC 6455: the server met a condition it did not expect
_BAD_REQUEST = [Code.BAD_REQUEST.value]


class EdgedFastAPI(FastAPI):
    """FastAPI whose HTTP and WebSocket requests enter through `edge` and nothing else; lifespan
    events keep FastAPI's and Starlette's own way to the router."""

    edge: Edge | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        edge, kind = self.edge, scope["type"]
        if edge is not None and kind == "http":
            await edge.http(scope, receive, send)
        elif edge is not None and kind == "websocket":
            await edge.websocket(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    def add_middleware(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("requests bypass Starlette's middleware stack: extend taskql.http.edge")


class Edge:
    """Everything taskql does around each request; built once, when the app is."""

    def __init__(
        self,
        app: FastAPI,
        *,
        cors: Cors,
        observer: Observer,
        max_bytes: int,
        body_timeout: float | None,
    ) -> None:
        self.app = app
        self.router = app.router
        self.cors = cors
        self.observer = observer
        self.max_bytes = max_bytes
        self.body_timeout = body_timeout
        self.too_large = body_limit.too_large(max_bytes)
        self.stalled = body_limit.stalled(body_timeout)
        self.handlers = handler_tables(app.exception_handlers)
        self.routes = direct_routes(app.router)
        self.ours = cors.names | {_REQUEST_ID}

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = perf_counter()
        raw = scope["headers"]
        headers: Mapping[bytes, bytes] = dict(raw)
        if len(headers) != len(raw):
            headers = _first_of_each(raw, headers)
        request_id = _request_id(headers.get(_REQUEST_ID))
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        observation = state[STATE_KEY] = Observation()
        origin = headers.get(b"origin")
        preflight = self.cors.is_preflight(scope, origin, headers)
        cors = [] if preflight else self.cors.headers_for(origin)
        response = _Response(send, cors, request_id.encode("latin-1"), self.ours)
        status = 500  # what is answered if the app raises before answering
        body = Body(receive, self.max_bytes, self.body_timeout)
        try:
            if preflight:
                await self.cors.preflight(scope)(scope, receive, response)
                return
            declared = body_limit.declared_length(headers.get(b"content-length"))
            if declared > self.max_bytes:
                drain = body_limit.drains(declared, headers.get(b"expect"))
                await self._refuse(scope, response, self.too_large, body if drain else None)
                return
            await self._dispatch(scope, body.receive, response)
        except BodyTooLarge:
            if response.status is None:  # else the app answered without reading it all
                await self._refuse(scope, response, self.too_large, body)
        except BodyStalled:
            if response.status is None:
                await self._refuse(scope, response, self.stalled)
        except asyncio.CancelledError:
            status = 499  # the client went away first (nginx's "client closed request")
            raise
        except Exception as exc:
            await self._failed(Request(scope, receive), receive, response, exc, request_id)
        finally:
            seconds = perf_counter() - started
            self.observer.record(scope, observation, request_id, response.status or status, seconds)

    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope["headers"]
        request_id = _request_id(dict(raw).get(_REQUEST_ID))
        scope.setdefault("state", {})["request_id"] = request_id
        try:
            await self._route(scope, receive, send)
        except Exception as exc:
            await self._failed(WebSocket(scope, receive, send), receive, send, exc, request_id)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get((scope["path"], scope["method"]))
        if route is None or scope.get("root_path"):
            await self._route(scope, receive, send)
            return
        # What the router and Starlette's request_response would do for this route.
        scope["app"] = self.app
        scope.setdefault("router", self.router)
        scope["route"], scope["endpoint"], scope["path_params"] = route, route.endpoint, {}
        response = await route.endpoint(Request(scope, receive, send))
        await response(scope, receive, send)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Through the router, with what its routes expect of the middlewares FastAPI adds."""
        scope["app"] = self.app
        scope["starlette.exception_handlers"] = self.handlers
        async with AsyncExitStack() as stack:
            scope["fastapi_middleware_astack"] = stack
            await self.router(scope, receive, send)

    async def _refuse(
        self, scope: Scope, send: Send, refusal: Refusal, unread: Body | None = None
    ) -> None:
        note_outcome(scope, _BAD_REQUEST)
        await body_limit.refuse(send, refusal, unread)

    async def _failed(
        self,
        connection: HTTPConnection,
        receive: Receive,
        send: Send,
        exc: Exception,
        request_id: str,
    ) -> None:
        """An exception's handler answers it; anything else is masked, and logged with the id."""
        started = getattr(send, "status", None) is not None
        handler = handler_for(self.handlers, exc)
        if handler is not None and not started:
            try:
                await handle(handler, connection, receive, send, exc)
                return
            except Exception as failure:  # a handler that fails is unexpected, too
                exc = failure
        logger.error("unexpected error (request_id=%s)", request_id, exc_info=exc)
        with contextlib.suppress(Exception):  # the client may be gone; nothing more to do
            await _answer(connection.scope, send, request_id, started)


class _Response:
    """The app's `send`: notes the status, and adds the request id and CORS to the head."""

    __slots__ = ("_cors", "_ours", "_request_id", "_send", "status")

    def __init__(self, send: Send, cors: RawHeaders, request_id: bytes, ours: frozenset[bytes]):
        self._send = send
        self._cors = cors
        self._request_id = request_id
        self._ours = ours
        self.status: int | None = None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            head = message.get("headers") or ()
            added = (_REQUEST_ID, self._request_id)
            if self._ours.isdisjoint([name for name, _ in head]):
                message["headers"] = [*head, *self._cors, added]
            else:  # the app set one of ours: replaced, as MutableHeaders would
                message["headers"] = merge(list(head), [*self._cors, added])
        await self._send(message)


def _request_id(supplied: bytes | None) -> str:
    if supplied is not None and _SAFE.match(supplied):
        return supplied.decode("latin-1")
    # uuid4().hex's shape. An id ties log lines to a response and is no secret (a client may
    # choose its own), so it needs no system call for randomness.
    return f"{getrandbits(128):032x}"


def _first_of_each(raw: RawHeaders, last: Mapping[bytes, bytes]) -> dict[bytes, bytes]:
    """A repeated header: Origin and Content-Length are read from its first line (as Starlette's
    Headers.get), X-Request-ID from its last, and an Expect of 100-continue wherever it is."""
    first: dict[bytes, bytes] = {}
    for name, value in raw:
        first.setdefault(name, value)
    if _REQUEST_ID in last:
        first[_REQUEST_ID] = last[_REQUEST_ID]
    if any(name == b"expect" and value.lower() == b"100-continue" for name, value in raw):
        first[b"expect"] = b"100-continue"
    return first


async def _answer(scope: Scope, send: Send, request_id: str, started: bool) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": _INTERNAL_ERROR_CLOSE})
        return
    if started:
        return  # the head is out: the server ends the response short, which the client sees
    refusal = Refusal.of(Code.INTERNAL_SERVER_ERROR, requestId=request_id)
    note_outcome(scope, [refusal.code.value])
    await send(
        {
            "type": "http.response.start",
            "status": refusal.status,
            "headers": refusal.asgi_headers(JSON),
        }
    )
    await send({"type": "http.response.body", "body": refusal.body})
