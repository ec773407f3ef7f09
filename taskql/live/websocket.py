"""graphql-transport-ws for taskql: the token in connection_init, limits, and a close at `exp`
or once the token's session has ended."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Protocol, cast

from graphql import GraphQLError, OperationType, get_operation_ast, parse
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.async_base_view import AsyncBaseHTTPView, AsyncWebSocketAdapter
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
    SubscribeMessage,
)

from auth.bearer import bearer_token
from auth.errors import AuthError, AuthUnavailable
from auth.user import LATEST_NUMERIC_DATE, AuthenticatedUser
from contract.errors import CloseCode, Code, graphql_error
from schema.context import Context
from schema.rate_limits import RateLimiter, Refused
from taskql.documents import DocumentRefused, TrustedDocuments
from taskql.live.messages import INVALID_MESSAGE, ClosedOnce, is_client_message

logger = logging.getLogger("taskql.websocket")

# Browsers cannot set headers on a WebSocket, so the token rides in connection_init's payload.
_TOKEN_KEYS = ("Authorization", "authorization", "token")
# Enough for any subscription document; the schema's own parse applies GRAPHQL_MAX_TOKENS.
_PRECHECK_MAX_TOKENS = 10_000


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

    def __init__(
        self, *, max_per_user: int, max_subscriptions: int, limiter: RateLimiter | None = None
    ) -> None:
        self.max_per_user = max_per_user
        self.max_subscriptions = max_subscriptions
        self.limiter = limiter
        self._by_user: dict[str, set[int]] = {}

    async def admit(self, context: Context) -> None:
        """Verify the connection's token (same verifier as HTTP) and count it for its user."""
        try:
            user = await context.verifier.verify(token_from(context.connection_params))
        except AuthError as exc:
            logger.info("websocket refused: %s", exc.reason)
            raise ConnectionRejectionError from None
        except AuthUnavailable:
            raise CloseConnection(CloseCode.TRY_AGAIN_LATER, "Try again later") from None
        # A connection attempt is one of the user's operations (SPEC §8); graphql-ws retries 4029.
        if await self.hit(user.user_id) is not None:
            raise CloseConnection(CloseCode.TOO_MANY_CONNECTIONS, "Rate limited; retry later")
        sockets = self._by_user.setdefault(user.user_id, set())
        if len(sockets) >= self.max_per_user:
            raise CloseConnection(CloseCode.TOO_MANY_CONNECTIONS, "Too many connections")
        sockets.add(id(context))
        context.user = user

    async def hit(self, user_id: str) -> Refused | None:
        return None if self.limiter is None else await self.limiter.hit("operations", user_id)

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
    documents: TrustedDocuments


class TaskqlTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's handler plus taskql's close codes, subscription limit and token expiry."""

    _expiry: asyncio.Task[None] | None = None

    def __init__(  # the signature Strawberry's view calls, with keywords
        self,
        view: AsyncBaseHTTPView[Any, Any, Any, Any, Any, Context, None],
        websocket: AsyncWebSocketAdapter,
        context: Context,
        root_value: None,
        schema: BaseSchema,
        connection_init_wait_timeout: timedelta,
        max_subscriptions_per_connection: int | None = None,
    ) -> None:
        super().__init__(
            view,
            ClosedOnce(websocket),
            context,
            root_value,
            schema,
            connection_init_wait_timeout,
            max_subscriptions_per_connection,
        )

    @property
    def live(self) -> LiveConnections:
        return cast("LiveView", self.view).live

    async def handle_message(self, message: Message) -> None:
        """Strawberry's dispatch, behind the protocol's message schema.

        Strawberry assumes a message of the right shape: `[]`, a list as an id or a string as a
        payload raised inside it, and the connection ended with no close frame (1006, which
        graphql-ws retries forever) or 1011. The protocol says 4400.
        """
        if not is_client_message(message):
            await self.handle_invalid_message(INVALID_MESSAGE)
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if message.get("payload") is None:  # the protocol allows null; Strawberry closes 4400
            message = {"type": "connection_init"}
        try:
            await super().handle_connection_init(message)
        except CloseConnection as exc:
            await self.websocket.close(code=exc.code, reason=exc.reason)
            return
        user = self.context.user
        if self.connection_acknowledged and user is not None and self._expiry is None:
            self._expiry = asyncio.create_task(self._watch_token(user))

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        try:
            message = self._resolved(message)
        except DocumentRefused as unknown:
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [unknown.error.formatted]}
            )
            return
        refusal = self._refusal(message)
        if refusal is None and self.context.user is not None:
            refused = await self.live.hit(self.context.user.user_id)
            refusal = refused.error() if refused is not None else None
        if refusal is None:
            await super().handle_subscribe(message)
            return
        await self.send_message(
            {"id": message["id"], "type": "error", "payload": [refusal.formatted]}
        )

    def _resolved(self, message: SubscribeMessage) -> SubscribeMessage:
        """The message with the document it names (SPEC §9): its `query`, or a documentId's."""
        if not self.connection_acknowledged:
            return message  # Strawberry closes 4401, whatever the payload
        documents = cast("LiveView", self.view).documents
        payload = message["payload"]
        query = documents.resolve(cast("Mapping[str, object]", payload))
        if query == payload.get("query"):
            return message
        return {**message, "payload": {**payload, "query": query or ""}}

    def _refusal(self, message: SubscribeMessage) -> GraphQLError | None:
        if not self.connection_acknowledged or message["id"] in self.operations:
            return None  # Strawberry closes: 4401 before the ack, 4409 for an id in use
        if len(self.operations) >= self.live.max_subscriptions:
            limit = self.live.max_subscriptions
            return graphql_error(
                Code.TOO_MANY_SUBSCRIPTIONS, f"At most {limit} subscriptions per connection."
            )
        return _not_one_subscription(message)

    async def _watch_token(self, user: AuthenticatedUser) -> None:
        """Close at `exp` (4001, so the client comes back with a fresh token), or as soon as
        a session check finds the token's session ended (4403), within the check interval."""
        if user.expires_at is None:
            return
        bound = self.context.verifier.session_check_seconds
        try:
            if user.session_id is not None and bound is not None:
                # Checked every half bound against answers at most half a bound old: an end
                # is seen within the bound, as HTTP sees it, however the two halves fall.
                while _seconds_until(user.expires_at) > bound / 2:
                    await asyncio.sleep(bound / 2)
                    if not await self._session_alive(user, bound / 2):
                        return
            await asyncio.sleep(_seconds_until(user.expires_at))
            await self._close(CloseCode.TOKEN_EXPIRED, "Token expired")
        except Exception as error:  # logged; shutdown must still find a done task
            await self.handle_task_exception(error)

    async def _session_alive(self, user: AuthenticatedUser, max_age: float) -> bool:
        try:
            await self.context.verifier.check_session(user, max_age=max_age)
        except AuthError:
            await self._close(CloseCode.FORBIDDEN, "Session has ended")
            return False
        except AuthUnavailable:  # never serve a session past the bound unchecked
            await self._close(CloseCode.TRY_AGAIN_LATER, "Try again later")
            return False
        return True

    async def _close(self, code: CloseCode, reason: str) -> None:
        for operation_id in list(self.operations):  # nothing more is sent on this token
            await self.cleanup_operation(operation_id)
        with contextlib.suppress(RuntimeError):  # the client left first
            await self.websocket.close(code=code, reason=reason)

    async def shutdown(self) -> None:
        try:
            if self._expiry is not None:
                self._expiry.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._expiry
        finally:
            # Whatever happened above: a place never given back locks the user out with 4029.
            self.live.release(self.context)
            await super().shutdown()


def _seconds_until(expires_at: int) -> float:
    # Clamped as an int first: a float of 10**400 would raise OverflowError. The verifier
    # refuses such an `exp`; this keeps the timer safe whatever the user object holds.
    return max(0.0, min(expires_at, LATEST_NUMERIC_DATE) - time.time())


def _not_one_subscription(message: SubscribeMessage) -> GraphQLError | None:
    """Why a well-formed document is not one subscription; None lets Strawberry answer the rest.

    Strawberry's worker task raises on an empty query or an unknown operationName, which the
    client then sees as INTERNAL_SERVER_ERROR; HTTP answers both with a 400 BAD_REQUEST.
    """
    payload = message["payload"]
    if not payload["query"]:
        return graphql_error(Code.BAD_REQUEST, "No GraphQL query found in the request")
    try:
        # Bounded: unbounded, graphql-core takes half a minute over a 4 MB document.
        document = parse(payload["query"], max_tokens=_PRECHECK_MAX_TOKENS)
    except GraphQLError:
        return None
    name = payload.get("operationName")
    operation = get_operation_ast(document, name)
    if operation is None:
        reason = CannotGetOperationTypeError(name).as_http_error_reason()
        return graphql_error(Code.BAD_REQUEST, reason)
    if operation.operation is OperationType.SUBSCRIPTION:
        return None
    # One context lives as long as the socket; queries and mutations belong to HTTP, where
    # each request gets its own database session.
    return graphql_error(
        Code.BAD_REQUEST, "Only subscriptions are served over WebSocket; use HTTP."
    )
