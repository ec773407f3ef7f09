"""The edge of every request: its X-Request-ID, and the masked 500 for anything that escapes.

The id is taken from the client when sane, made up otherwise, and echoed on every response.
An exception that escapes the app anywhere (execution, middleware, routing) is logged here with
that id and answered with the contract's masked INTERNAL_SERVER_ERROR JSON, never a plain-text
page (SPEC §3).
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contract.errors import Code, Refusal, note_outcome
from taskql.http.media import JSON
from taskql.http.sent import Sent

logger = logging.getLogger("taskql.errors")
_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_INTERNAL_ERROR_CLOSE = 1011  # RFC 6455: the server met a condition it did not expect


class EdgeMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        supplied = dict(scope.get("headers") or ()).get(b"x-request-id", b"").decode("latin-1")
        request_id = supplied if _SAFE.match(supplied) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        sent = Sent(send_with_id)
        try:
            await self.app(scope, receive, sent)
        except Exception:
            logger.exception("unexpected error (request_id=%s)", request_id)
            with contextlib.suppress(Exception):  # the client may be gone; nothing more to do
                await _answer(scope, sent, request_id, sent.started)


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
