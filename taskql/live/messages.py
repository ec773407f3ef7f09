"""graphql-transport-ws's own rules: what a client may send, and how a close frame is written."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from strawberry.http.async_base_view import AsyncWebSocketAdapter

INVALID_MESSAGE = "Invalid message received"
# RFC 6455 caps a close frame's reason at 123 bytes; asked for a longer one, the websockets
# library raises and the connection ends without the code we meant to send.
MAX_REASON_BYTES = 123


class _Message(BaseModel):
    # Strict: "1" is not 1, and a JSON object is the only payload. Extra fields are the
    # protocol's to add, so they pass (graphql-ws' own server lets them through too).
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


OperationId = Annotated[str, StringConstraints(min_length=1)]
Payload = dict[str, object] | None


class _Handshake(_Message):
    type: Literal["connection_init", "ping", "pong"]
    payload: Payload = None


class _SubscribePayload(_Message):
    query: str = ""  # required, unless a documentId (SPEC §9) names the document instead
    documentId: str | None = None
    variables: Payload = None
    operationName: str | None = None  # the protocol's spelling
    extensions: Payload = None

    @model_validator(mode="after")
    def _names_a_document(self) -> _SubscribePayload:
        if "query" not in self.model_fields_set and self.documentId is None:
            raise ValueError("a subscribe payload needs `query` or `documentId`")
        return self


class _Subscribe(_Message):
    type: Literal["subscribe"]
    id: OperationId
    payload: _SubscribePayload


class _Complete(_Message):
    type: Literal["complete"]
    id: OperationId


# What a client may send under graphql-transport-ws (its PROTOCOL.md, as graphql-ws validates it).
_CLIENT_MESSAGE: TypeAdapter[Any] = TypeAdapter(
    Annotated[_Handshake | _Subscribe | _Complete, Field(discriminator="type")]
)


def is_client_message(message: object) -> bool:
    """Whether `message` (parsed JSON) is a message a graphql-transport-ws client may send."""
    try:
        _CLIENT_MESSAGE.validate_python(message)
    except ValidationError:
        return False
    return True


class ClosedOnce(AsyncWebSocketAdapter):
    """Strawberry's socket, closed as RFC 6455 allows: once, with a reason a close frame holds
    (Strawberry's may echo an operation id, an operation name or a syntax error of any length),
    and with nothing sent after it (an operation still running would log a traceback)."""

    def __init__(self, inner: AsyncWebSocketAdapter) -> None:
        super().__init__(inner.view)
        self.inner = inner
        self.closed = False

    def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object, None]:
        return self.inner.iter_json(ignore_parsing_errors=ignore_parsing_errors)

    async def send_json(self, message: Mapping[str, object]) -> None:
        if not self.closed:
            await self.inner.send_json(message)

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        encoded = reason.encode()[:MAX_REASON_BYTES]
        await self.inner.close(code, encoded.decode(errors="ignore"))
