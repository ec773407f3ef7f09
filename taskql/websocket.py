"""graphql-transport-ws for taskql: the token in connection_init, limits, and a close at `exp`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Protocol, cast

from graphql import GraphQLError, OperationType, get_operation_ast, parse
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    SubscribeMessage,
)

from auth.bearer import bearer_token
from auth.context import Context
from auth.errors import AuthError
from auth.user import AuthenticatedUser
from contract.errors import CloseCode

logger = logging.getLogger("taskql.websocket")

# Browsers cannot set headers on a WebSocket, so the token rides in connection_init's payload.
_TOKEN_KEYS = ("Authorization", "authorization", "token")


class CloseConnection(Exception):
    """Raised from on_ws_connect to refuse a connection with a code other than 4403."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def token_from(params: object) -> str:
    """The JWT in a connection_init payload; AuthError when absent or malformed."""
    if isinstance(params, Mapping):
        for key in _TOKEN_KEYS:
            value = params.get(key)
            if isinstance(value, str) and value.strip():
                # `token` may hold the bare JWT; every key also takes "Bearer <jwt>".
                token = value.strip() if " " not in value.strip() else bearer_token(value)
                if token:
                    return token
    raise AuthError("missing_header", "connection_init carries no token")


class LiveConnections:
    """Open, authenticated subscription sockets of this process, counted per user."""

    def __init__(self, *, max_per_user: int, max_subscriptions: int) -> None:
        self.max_per_user = max_per_user
        self.max_subscriptions = max_subscriptions
        self._by_user: dict[str, set[int]] = {}

    async def admit(self, context: Context) -> None:
        """Verify the connection's token (same verifier as HTTP) and count it for its user."""
        try:
            user = await context.verifier.verify(token_from(context.connection_params))
        except AuthError as exc:
            logger.info("websocket refused: %s", exc.reason)
            raise ConnectionRejectionError from None
        sockets = self._by_user.setdefault(user.user_id, set())
        if len(sockets) >= self.max_per_user:
            raise CloseConnection(CloseCode.TOO_MANY_CONNECTIONS, "Too many connections")
        sockets.add(id(context))
        context.user = user

    def release(self, context: Context) -> None:
        if context.user is None:
            return
        sockets = self._by_user.get(context.user.user_id)
        if sockets is not None:
            sockets.discard(id(context))
            if not sockets:
                del self._by_user[context.user.user_id]


class LiveView(Protocol):
    live: LiveConnections


class TaskqlTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's handler plus taskql's close codes, subscription limit and token expiry."""

    _expiry: asyncio.Task[None] | None = None

    @property
    def live(self) -> LiveConnections:
        return cast("LiveView", self.view).live

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except CloseConnection as exc:
            await self.websocket.close(code=exc.code, reason=exc.reason)
            return
        user = self.context.user
        if self.connection_acknowledged and user is not None and self._expiry is None:
            self._expiry = asyncio.create_task(self._close_at_expiry(user))

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        refusal = self._refusal(message) if self.connection_acknowledged else None
        if refusal is None:
            await super().handle_subscribe(message)
            return
        error = GraphQLError(refusal[0], extensions={"code": refusal[1]})
        await self.send_message(
            {"id": message["id"], "type": "error", "payload": [error.formatted]}
        )

    def _refusal(self, message: SubscribeMessage) -> tuple[str, str] | None:
        if len(self.operations) >= self.live.max_subscriptions:
            limit = self.live.max_subscriptions
            return f"At most {limit} subscriptions per connection.", "TOO_MANY_SUBSCRIPTIONS"
        if _is_subscription(message):
            return None
        # One context lives as long as the socket; queries and mutations belong to HTTP, where
        # each request gets its own database session.
        return "Only subscriptions are served over WebSocket; use HTTP.", "BAD_REQUEST"

    async def _close_at_expiry(self, user: AuthenticatedUser) -> None:
        if user.expires_at is None:
            return
        await asyncio.sleep(max(0.0, user.expires_at - time.time()))
        for operation_id in list(self.operations):  # nothing more is sent on this token
            await self.cleanup_operation(operation_id)
        with contextlib.suppress(RuntimeError):  # the client left first
            await self.websocket.close(code=CloseCode.TOKEN_EXPIRED, reason="Token expired")

    async def shutdown(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry
        self.live.release(self.context)
        await super().shutdown()


def _is_subscription(message: SubscribeMessage) -> bool:
    """False only for a well-formed query or mutation; strawberry answers broken documents."""
    payload = message.get("payload") or {}
    try:
        operation = get_operation_ast(parse(payload["query"]), payload.get("operationName"))
    except (GraphQLError, KeyError, TypeError):
        return True
    return operation is None or operation.operation is OperationType.SUBSCRIPTION
