"""The error contract of SPEC §3 in one place: codes, their messages, statuses and headers, and
the one function that writes an error body. GraphQL, HTTP, middleware and WebSocket all use it."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any, Literal

import orjson
from graphql import GraphQLError


class Code(StrEnum):
    """`extensions.code` of every error taskql sends."""

    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    CONFLICT = "CONFLICT"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    IDEMPOTENCY_KEY_IN_USE = "IDEMPOTENCY_KEY_IN_USE"
    CURSOR_EXPIRED = "CURSOR_EXPIRED"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    QUERY_NOT_IN_SAFELIST = "QUERY_NOT_IN_SAFELIST"
    BAD_REQUEST = "BAD_REQUEST"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"
    RATE_LIMITED = "RATE_LIMITED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


# Why a token was refused (`extensions.reason` of UNAUTHENTICATED, and the JWT-failure metric).
Reason = Literal[
    "missing_header",
    "bad_header",
    "bad_scheme",
    "expired",
    "bad_signature",
    "bad_claims",
    "unknown_key",
    "malformed",
    "revoked",  # the session behind the token's `sid` has ended (SPEC §4)
]

RETRY_AFTER_SECONDS = "2"
_CHALLENGE = 'Bearer error="invalid_token"'  # RFC 6750's, on every 401


@dataclass(frozen=True, slots=True)
class Rule:
    """What a code means over HTTP when it decides the response on its own."""

    status: int
    message: str | None = None  # the contract's exact wording, where it fixes one
    headers: Mapping[str, str] = field(default_factory=dict)


RULES: Mapping[Code, Rule] = {
    Code.UNAUTHENTICATED: Rule(
        401,
        "Authorization header missing. Include: Authorization: Bearer <token>",
        {"WWW-Authenticate": _CHALLENGE},
    ),
    Code.FORBIDDEN: Rule(403, "Access denied. You can only access your own resources."),
    Code.NOT_FOUND: Rule(200, "Task not found."),
    Code.BAD_USER_INPUT: Rule(200),
    Code.CONFLICT: Rule(409, "Task was changed by another request."),  # + currentVersion
    Code.IDEMPOTENCY_KEY_REUSED: Rule(
        422, "This Idempotency-Key was already used with a different request."
    ),
    Code.IDEMPOTENCY_KEY_IN_USE: Rule(
        409,
        "A request with this Idempotency-Key is still being processed. Please retry.",
        {"Retry-After": "1"},
    ),
    # Trusted documents (SPEC §9). Apollo's persisted-query link matches this exact message and
    # then sends the document itself, so the wording is Apollo's, not ours.
    Code.PERSISTED_QUERY_NOT_FOUND: Rule(400, "PersistedQueryNotFound"),
    Code.QUERY_NOT_IN_SAFELIST: Rule(
        400, "Only trusted documents run on this server: send a documentId from its manifest."
    ),
    Code.BAD_REQUEST: Rule(400),
    Code.GRAPHQL_PARSE_FAILED: Rule(400),
    Code.GRAPHQL_VALIDATION_FAILED: Rule(400),
    Code.TOO_MANY_SUBSCRIPTIONS: Rule(400),
    # Subscriptions only (an `error` message): the client refetches, then subscribes afresh.
    Code.CURSOR_EXPIRED: Rule(
        400, "Events after this cursor are no longer kept. Refetch, then subscribe without it."
    ),
    Code.RATE_LIMITED: Rule(429),  # + Retry-After and RateLimit headers, from the limit hit
    Code.SERVICE_UNAVAILABLE: Rule(
        503,
        "Service temporarily unavailable. Please retry.",
        {"Retry-After": RETRY_AFTER_SECONDS},
    ),
    Code.INTERNAL_SERVER_ERROR: Rule(500, "Internal server error."),
}


def message_of(code: Code) -> str:
    """The contract's exact message for `code` (only for codes that fix one)."""
    message = RULES[code].message
    if message is None:
        raise LookupError(f"{code} has no fixed message")
    return message


def graphql_error(
    code: Code,
    message: str | None = None,
    nodes: Any = None,
    path: Sequence[str | int] | None = None,
    **extensions: Any,
) -> GraphQLError:
    """A GraphQL error carrying `code` (and the contract's message unless one is given)."""
    return GraphQLError(
        message if message is not None else message_of(code),
        nodes,
        path=path,
        extensions={"code": code.value, **extensions},
    )


def graphql_status(
    codes: Sequence[object], *, has_data: bool, request_error: bool, strict_media: bool
) -> tuple[int, Mapping[str, str]]:
    """SPEC §3's status rule for a GraphQL result, from its error codes.

    401 for any authentication failure; 503 when the database could not be used; 403 only
    with no data and nothing but FORBIDDEN, 409 likewise with nothing but CONFLICT; request
    errors (parse, validation, variables: no execution) are 400 under
    application/graphql-response+json and, for legacy application/json clients, 200 unless the
    request broke a limit (BAD_REQUEST is final).
    """
    if Code.UNAUTHENTICATED in codes:
        return 401, RULES[Code.UNAUTHENTICATED].headers
    if Code.RATE_LIMITED in codes:
        return 429, {}
    if Code.SERVICE_UNAVAILABLE in codes:
        return 503, RULES[Code.SERVICE_UNAVAILABLE].headers
    if has_data or not codes:
        return 200, {}
    if all(code == Code.FORBIDDEN for code in codes):
        return 403, {}
    if all(code == Code.CONFLICT for code in codes):
        return 409, {}
    if request_error:
        if Code.BAD_REQUEST in codes:
            return 400, {}
        return (400 if strict_media else 200), {}
    if Code.INTERNAL_SERVER_ERROR in codes:
        return 500, {}
    return 200, {}


def error_body(code: Code, message: str | None = None, **extensions: Any) -> dict[str, Any]:
    """The GraphQL-shaped body of a response that carries one error and no data."""
    text = message if message is not None else message_of(code)
    return {"errors": [{"message": text, "extensions": {"code": code.value, **extensions}}]}


def unauthenticated_headers(reason: Reason | None, message: str | None) -> dict[str, str]:
    """RFC 6750's challenge; a token error also says what was wrong with it."""
    challenge = _CHALLENGE
    if reason is not None and reason != "missing_header" and message is not None:
        challenge += f', error_description="{message}"'
    return {"WWW-Authenticate": challenge}


@dataclass(frozen=True, slots=True)
class Refusal:
    """A whole response that is one error: its status, headers and body, ready to send."""

    code: Code
    status: int
    body: bytes
    headers: Mapping[str, str]
    reason: Reason | None = None

    @classmethod
    def of(
        cls,
        code: Code,
        message: str | None = None,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> Refusal:
        rule = RULES[code]
        reason = extensions.get("reason") if code is Code.UNAUTHENTICATED else None
        all_headers = (
            unauthenticated_headers(reason, message)
            if code is Code.UNAUTHENTICATED
            else dict(rule.headers)
        )
        all_headers.update(headers or {})
        return cls(
            code,
            status if status is not None else rule.status,
            orjson.dumps(error_body(code, message, **extensions)),
            all_headers,
            reason,
        )

    def asgi_headers(self, media_type: str, *, close: bool = False) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"content-type", media_type.encode()),
            (b"content-length", str(len(self.body)).encode()),
        ]
        headers += [(name.lower().encode(), value.encode()) for name, value in self.headers.items()]
        if close:
            headers.append((b"connection", b"close"))
        return headers


# Where a request's outcome is noted for the access log and the metrics (scope["state"][...]).
OUTCOME_KEY = "taskql_outcome"


@dataclass(slots=True)
class Outcome:
    """The error codes a request was answered with, and why a token was refused."""

    codes: list[str] = field(default_factory=list)
    reason: str | None = None


def note_outcome(
    scope: MutableMapping[str, Any], codes: Sequence[str], reason: str | None = None
) -> None:
    """Tell the access log and metrics which codes this request was answered with."""
    outcome = scope.setdefault("state", {}).setdefault(OUTCOME_KEY, Outcome())
    outcome.codes.extend(codes)
    if reason is not None:
        outcome.reason = reason


def outcome_of(scope: Mapping[str, Any]) -> Outcome | None:
    state = scope.get("state") or {}
    outcome = state.get(OUTCOME_KEY)
    return outcome if isinstance(outcome, Outcome) else None


class CloseCode(IntEnum):
    """Why the server closed a subscription socket (SPEC §7; README "Live updates" has the table).

    graphql-ws 6.x retries all of these but 4400: it gives up only on 4004, 4005, 4400, 4401,
    4406, 4409, 4429, 4500 and on 1xxx codes other than 1000, 1001, 1005, 1006 and 1012-1014. So a
    client whose `connectionParams` fetches a fresh token comes back by itself, and one that sends
    messages outside the protocol is told so and stops.
    """

    RESTART = 1012
    TRY_AGAIN_LATER = 1013  # whether the token's session is alive could not be found out
    TOKEN_EXPIRED = 4001
    TOO_MANY_CONNECTIONS = 4029
    BAD_MESSAGE = 4400  # a message outside graphql-transport-ws (the protocol's own code)
    FORBIDDEN = 4403  # strawberry's code for a rejected connection_init; a session that ended
    INIT_TIMEOUT = 4408  # strawberry's connection_init_wait_timeout
