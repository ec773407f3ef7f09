"""Idempotency-Key over HTTP (SPEC §8): which requests it covers, how a covered request's
response commits with its writes, and what a repeat is answered."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from functools import lru_cache

import orjson
from graphql import DocumentNode, GraphQLError, OperationDefinitionNode, OperationType, parse
from graphql.language import print_ast
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.requests import Request
from starlette.responses import Response

from contract.errors import Code, Refusal
from db.models import KEY_MAX
from resolvers import events
from resolvers.idempotency import Claim, KeyStore, Refused, Stored
from schema.context import Context
from taskql.documents import TrustedDocuments
from taskql.http.refusals import refusal_response

logger = logging.getLogger("taskql.idempotency")

KEY_HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
MALFORMED = f"Idempotency-Key must be sent once, as 1 to {KEY_MAX} printable ASCII characters."
_DATABASE_AWAY = (DBAPIError, PoolTimeoutError, OSError, TimeoutError)
_REFUSED = {
    Refused.IN_USE: Code.IDEMPOTENCY_KEY_IN_USE,
    Refused.REUSED: Code.IDEMPOTENCY_KEY_REUSED,
}


def well_formed(key: str) -> bool:
    return 1 <= len(key) <= KEY_MAX and all(" " <= char <= "~" for char in key)


def storable(status: int) -> bool:
    """A final answer: not a refusal to retry (401, 429) nor a failure of ours (5xx)."""
    return status < 500 and status not in (401, 429)


class IdempotencyKeys:
    """Starts and finishes the requests that carry an Idempotency-Key."""

    def __init__(
        self, store: KeyStore, max_tokens: int, documents: TrustedDocuments | None = None
    ) -> None:
        self.store = store
        self.max_tokens = max_tokens
        self.documents = documents or TrustedDocuments()

    async def begin(self, request: Request, context: Context) -> Response | Keyed | None:
        """None: run the request as usual. A response: answer it without running (a replay
        or a refusal). Keyed: run it, then `finish` it."""
        keys = request.headers.getlist(KEY_HEADER)
        if not keys or request.method != "POST" or context.user is None:
            return None  # a key is per user; without one the request is refused anyway
        fingerprint = fingerprint_of(await request.body(), self.max_tokens, self.documents.text_of)
        if fingerprint is None:
            return None  # not a mutation: queries ignore the header
        if len(keys) != 1 or not well_formed(keys[0]):
            return _refusal(request, Refusal.of(Code.BAD_REQUEST, MALFORMED))
        try:
            outcome = await self.store.claim(context.user.user_id, keys[0], fingerprint)
        except _DATABASE_AWAY as exc:
            logger.warning("idempotency: could not claim a key (%s)", type(exc).__name__)
            return _unavailable(request)
        if isinstance(outcome, Stored):
            headers = {**dict(outcome.headers), REPLAYED_HEADER: "true"}
            return Response(outcome.body, outcome.status, headers)
        if isinstance(outcome, Refused):
            return _refusal(request, Refusal.of(_REFUSED[outcome]))
        async with context.writing() as session:
            events.hold(session)
        return Keyed(self.store, outcome)


class Keyed:
    """A request holding its key: its writes wait in its session for its response."""

    def __init__(self, store: KeyStore, claim: Claim) -> None:
        self.store = store
        self.claim = claim

    async def finish(self, request: Request, context: Context, response: Response) -> Response:
        """Commit the writes and the response together, or neither (and give the key up)."""
        kept = False
        try:
            async with context.writing() as session:
                if not storable(response.status_code):
                    wrote = events.holds_writes(session)
                    await events.discard_held(session)
                    # Rolled back, so data that says it was written would be untrue.
                    return _unavailable(request) if wrote else response
                if not await self.store.complete(session, self.claim, _stored(response)):
                    kept = True  # no longer ours: taken over as dead, its new holder answers
                    await events.discard_held(session)
                    return _refusal(request, Refusal.of(Code.IDEMPOTENCY_KEY_IN_USE))
                await events.commit_held(session)
                kept = True
                return response
        except _DATABASE_AWAY as exc:
            # Committed or not, a retry with the key finds out: the stored answer or a new run.
            logger.warning("idempotency: could not commit a keyed request (%s)", type(exc).__name__)
            return _unavailable(request)
        finally:
            if not kept:
                await self.abandon(context)

    async def abandon(self, context: Context) -> None:
        """Nothing of the request commits (if it has not), and the key is free again."""
        try:
            async with context.writing() as session:
                await events.discard_held(session)
        except _DATABASE_AWAY as exc:
            logger.warning("idempotency: could not roll back (%s)", type(exc).__name__)
        finally:
            await self.store.release(self.claim)


def _stored(response: Response) -> Stored:
    headers = [
        (name, value) for name, value in response.headers.items() if name != "content-length"
    ]
    return Stored(response.status_code, headers, bytes(response.body))


def _refusal(request: Request, refusal: Refusal) -> Response:
    return refusal_response(request, refusal, request.state.graphql_media_type)


def _unavailable(request: Request) -> Response:
    return _refusal(request, Refusal.of(Code.SERVICE_UNAVAILABLE))


def _query_of(item: Mapping[str, object]) -> str | None:
    query = item.get("query")
    return query if isinstance(query, str) else None


def fingerprint_of(
    body: bytes,
    max_tokens: int,
    text_of: Callable[[Mapping[str, object]], str | None] = _query_of,
) -> str | None:
    """A digest of the request's canonical form (each operation's normalised document, name
    and variables), or None unless it runs a mutation. `text_of` says which document an
    operation runs: its `query`, or the one its documentId names."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None  # refused as it is, later
    items = data if isinstance(data, list) else [data]
    canonical: list[object] = []
    mutates = False
    for item in items:
        text = text_of(item) if isinstance(item, dict) else None
        if text is None:
            return None
        name = item.get("operationName")
        parsed = _document(text, max_tokens)
        if parsed is None:
            return None
        document, printed = parsed
        operation = _operation(document, name if isinstance(name, str) else None)
        mutates = mutates or (
            operation is not None and operation.operation == OperationType.MUTATION
        )
        canonical.append([printed, name, item.get("variables")])
    if not mutates:
        return None
    try:
        encoded = orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None
    return hashlib.sha256(encoded).hexdigest()


@lru_cache(maxsize=256)
def _document(query: str, max_tokens: int) -> tuple[DocumentNode, str] | None:
    """The parsed document and its printed (normalised) form, once per distinct text."""
    try:
        document = parse(query, no_location=True, max_tokens=max_tokens)
    except GraphQLError:
        return None  # refused as it is, later
    return document, print_ast(document)


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((op for op in operations if op.name is not None and op.name.value == name), None)
