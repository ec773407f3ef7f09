"""Request bodies: over the limit they are refused with 413 before they are held in memory, and a
body that stalls is answered 408."""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contract.errors import Code, Refusal, note_outcome
from taskql.http.media import JSON
from taskql.http.sent import Sent

# Reading what is left of a refused body lets the client finish writing and read the 413. A
# socket closed with bytes unread is reset; the client's next write fails, and an asyncio client
# (httpx's AsyncClient) then drops its socket with the 413 unread in it. Bounded like nginx's
# lingering close, so a client cannot keep us reading.
DRAIN_MAX_BYTES = 32 * 1024 * 1024
DRAIN_SECONDS = 5.0


class _BodyTooLarge(Exception):
    pass


class _BodyStalled(Exception):
    pass


class _Body:
    """The request's `receive` as the app sees it: bytes counted, and each wait for more timed."""

    def __init__(self, receive: Receive, max_bytes: int, timeout: float | None) -> None:
        self._receive = receive
        self._max_bytes = max_bytes
        self._timeout = timeout
        self.received = 0
        self.finished = False

    async def receive(self) -> Message:
        if self.finished:  # after the body the app only listens for a disconnect: not timed
            return await self._receive()
        try:
            async with asyncio.timeout(self._timeout):
                message = await self._receive()
        except TimeoutError:
            raise _BodyStalled from None
        self._note(message)
        if self.received > self._max_bytes:
            raise _BodyTooLarge
        return message

    async def drain(self) -> None:
        """Reads and drops the rest of the body, within DRAIN_MAX_BYTES and DRAIN_SECONDS."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_SECONDS):
                while not self.finished and self.received <= DRAIN_MAX_BYTES:
                    self._note(await self._receive())

    def _note(self, message: Message) -> None:
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            self.finished = not message.get("more_body", False)
        else:  # http.disconnect
            self.finished = True


class BodyLimitMiddleware:
    """Trusts a Content-Length over the limit to refuse at once, and counts chunked bodies.

    `body_timeout` is the longest the body may pause while the app waits for it (None: no
    limit); the wait for a request's head is the server's (taskql.http.protocol).
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, body_timeout: float | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = _Body(receive, self.max_bytes, self.body_timeout)
        declared = _declared_length(scope)
        if declared > self.max_bytes:
            # A client waiting for 100 Continue has sent nothing to drain: refuse straight away.
            drain = declared <= DRAIN_MAX_BYTES and not _expects_continue(scope)
            await self._too_large(scope, send, body if drain else None)
            return
        sent = Sent(send)
        try:
            await self.app(scope, body.receive, sent)
        except _BodyTooLarge:
            if (
                not sent.started
            ):  # else the app answered without reading it all; nothing more to say
                await self._too_large(scope, send, body)
        except _BodyStalled:
            if not sent.started:
                await self._stalled(scope, send)

    async def _too_large(self, scope: Scope, send: Send, unread: _Body | None) -> None:
        message = f"Request body is larger than {self.max_bytes} bytes."
        refusal = Refusal.of(Code.BAD_REQUEST, message, status=413)
        if unread is None:
            await _refuse(scope, send, refusal)
            return
        # uvicorn's receive says http.disconnect once the response is complete, so the rest of
        # the body is read before the final (empty) chunk; the 413 itself is on the wire already.
        await _refuse(scope, send, refusal, more_body=True)
        await unread.drain()
        await send({"type": "http.response.body", "body": b""})

    async def _stalled(self, scope: Scope, send: Send) -> None:
        message = f"The request body stalled for more than {self.body_timeout:g} s."
        await _refuse(scope, send, Refusal.of(Code.BAD_REQUEST, message, status=408))


async def _refuse(scope: Scope, send: Send, refusal: Refusal, *, more_body: bool = False) -> None:
    note_outcome(scope, [refusal.code.value])
    headers = refusal.asgi_headers(JSON, close=True)
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": refusal.body, "more_body": more_body})


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0  # the server rejects a malformed length before we see it
    return 0


def _expects_continue(scope: Scope) -> bool:
    return any(
        name == b"expect" and value.lower() == b"100-continue"
        for name, value in scope.get("headers") or ()
    )
