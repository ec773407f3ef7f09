"""uvicorn's HTTP protocol with a deadline for each request head, so silent sockets are closed."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from contract.errors import Code, Refusal
from taskql.http.media import JSON


class HeadTimeoutProtocol(HttpToolsProtocol):
    """httptools' protocol (the one `serve` gets: uvicorn[standard] installs httptools) with a
    timer for request heads.

    uvicorn's only timer is keep-alive's, armed once a response is complete: a connection that
    never finishes a head (silent, or a request line and then nothing) held a socket for ever.
    The head must arrive within `header_timeout` of the connection opening or, on a kept-alive
    connection, of its first byte: between requests the idle connection stays keep-alive's, so
    HTTP_KEEPALIVE_SECONDS still decides when an idle client is dropped. The app never sees a
    request whose head is incomplete, so this has to live here, not in a middleware.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        header_timeout: float,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout = header_timeout
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_begun = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_begun = True
        self._start_head_timer()  # a no-op on a new connection, whose clock is already running

    def on_headers_complete(self) -> None:
        # Also the moment before a WebSocket upgrade: a socket's lifetime is not the head's.
        self._head_begun = False
        self._stop_head_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def _start_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_overdue)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_overdue(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined head is late behind a response still being written: end after that.
            self.cycle.keep_alive = False
            return
        # A half-sent request is answered. A silent socket is closed quietly, as an idle one is:
        # a browser may hold it preconnected and would read a 408 as its next request's answer.
        if self._head_begun:
            self.transport.write(self._request_timeout())
        self.transport.close()

    def _request_timeout(self) -> bytes:
        refusal = Refusal.of(
            Code.BAD_REQUEST,
            f"The request head did not arrive within {self.header_timeout:g} s.",
            status=408,
        )
        headers = [*self.server_state.default_headers, *refusal.asgi_headers(JSON, close=True)]
        head = [STATUS_LINE[408], *(name + b": " + value + b"\r\n" for name, value in headers)]
        return b"".join([*head, b"\r\n", refusal.body])
