"""What an ASGI app has sent so far: the one wrapper of `send` the layers around the app share."""

from __future__ import annotations

from starlette.types import Message, Send


class Sent:
    """Passes messages on to `send`, noting the response's status once its head is out."""

    __slots__ = ("_send", "status")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status: int | None = None  # 101 once a WebSocket is accepted

    @property
    def started(self) -> bool:
        return self.status is not None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "websocket.accept":
            self.status = 101
        await self._send(message)
