"""A loopback TCP proxy a test can cut, stall and restore: a database outage without stopping it."""

from __future__ import annotations

import asyncio
import contextlib

_CHUNK = 64 * 1024


class TcpProxy:
    """Forwards 127.0.0.1:<port> to the target.

    `cut()` refuses new connections and resets open ones (the database host went away);
    `stall()` accepts and holds connections and stops forwarding bytes (a black-holed network);
    `hold_answers()` forwards what clients send and holds what the target answers (with `cut()`
    after it, a response lost on its way back); `restore()` ends any of these, dropping what the
    outage left half-open, as a real one would.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._answering = asyncio.Event()  # bytes from the target to clients may pass
        self._answering.set()
        self._transports: set[asyncio.WriteTransport] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self._reset_all()

    def stall(self) -> None:
        self._flowing.clear()

    def hold_answers(self) -> None:
        self._answering.clear()

    async def restore(self) -> None:
        self._reset_all()
        self._flowing.set()
        self._answering.set()
        if self._server is None:
            await self.start()

    async def close(self) -> None:
        await self.cut()
        self._flowing.set()
        self._answering.set()

    def _reset_all(self) -> None:
        for transport in list(self._transports):
            transport.abort()
        self._transports.clear()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self._transports.add(client_w.transport)
        try:
            await self._flowing.wait()  # a stalled network holds the connection attempt
            if client_w.transport.is_closing():
                return
            upstream_r, upstream_w = await asyncio.open_connection(*self.target)
        except (OSError, asyncio.CancelledError):
            client_w.transport.abort()
            return
        self._transports.add(upstream_w.transport)
        # A handler cancelled at loop shutdown just ends; the sockets are aborted by the pumps.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(
                self._pump(client_r, upstream_w, client_w),
                self._pump(upstream_r, client_w, upstream_w, self._answering),
            )

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: asyncio.StreamWriter,
        gate: asyncio.Event | None = None,
    ) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(_CHUNK):
                await self._flowing.wait()
                if gate is not None:
                    await gate.wait()
                if writer.transport.is_closing():
                    break
                writer.write(data)
                await writer.drain()
        # One side ended: so does the other, as with a real connection through a NAT or proxy.
        for side in (writer, peer):
            side.transport.abort()
            self._transports.discard(side.transport)
