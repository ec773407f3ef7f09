"""Request bodies: over the limit they are refused with 413 before they are held in memory, and a
body that stalls is answered 408 (the edge, taskql.http.edge, sends both)."""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import Message, Receive, Send

from contract.errors import Code, Refusal
from taskql.http.media import JSON

# Reading what is left of a refused body lets the client finish writing and read the 413. A
# socket closed with bytes unread is reset; the client's next write fails, and an asyncio client
# (httpx's AsyncClient) then drops its socket with the 413 unread in it. Bounded like nginx's
# lingering close, so a client cannot keep us reading.
DRAIN_MAX_BYTES = 32 * 1024 * 1024
DRAIN_SECONDS = 5.0


class BodyTooLarge(Exception):
    pass


class BodyStalled(Exception):
    pass


class Body:
    """The request's `receive` as the app sees it: bytes counted, and each wait for more timed.

    `timeout` is the longest the body may pause while the app waits for it (None: no limit);
    the wait for a request's head is the server's (taskql.http.protocol).
    """

    __slots__ = ("_max_bytes", "_receive", "_timeout", "finished", "received")

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
            raise BodyStalled from None
        self._note(message)
        if self.received > self._max_bytes:
            raise BodyTooLarge
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


def declared_length(value: bytes | None) -> int:
    if value is None:
        return 0
    try:
        return int(value)
    except ValueError:
        return 0  # the server rejects a malformed length before we see it


def drains(declared: int, expect: bytes | None) -> bool:
    """Whether a body declared too large is read before the connection closes: a client
    waiting for 100 Continue has sent nothing to drain, so it is refused straight away."""
    return declared <= DRAIN_MAX_BYTES and (expect is None or expect.lower() != b"100-continue")


def too_large(max_bytes: int) -> Refusal:
    message = f"Request body is larger than {max_bytes} bytes."
    return Refusal.of(Code.BAD_REQUEST, message, status=413)


def stalled(timeout: float | None) -> Refusal:
    message = f"The request body stalled for more than {timeout:g} s."
    return Refusal.of(Code.BAD_REQUEST, message, status=408)


async def refuse(send: Send, refusal: Refusal, unread: Body | None = None) -> None:
    """The refusal, with the connection closed after it; `unread`'s rest is drained first.

    uvicorn's receive says http.disconnect once the response is complete, so the rest of the
    body is read before the final (empty) chunk; the refusal itself is on the wire already.
    """
    headers = refusal.asgi_headers(JSON, close=True)
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    more = unread is not None
    await send({"type": "http.response.body", "body": refusal.body, "more_body": more})
    if unread is not None:
        await unread.drain()
        await send({"type": "http.response.body", "body": b""})
