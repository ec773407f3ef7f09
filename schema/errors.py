"""Every error leaves with an `extensions.code`; unexpected ones are masked and logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError, OperationDefinitionNode
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from strawberry.extensions import SchemaExtension

from contract.errors import Code, message_of

logger = logging.getLogger("taskql.errors")

# Exceptions that mean "the database is away or saturated": the client should retry, not give up.
_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError, ConnectionError, TimeoutError)


def _is_unavailable(error: BaseException | None) -> bool:
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, _UNAVAILABLE) or (
        isinstance(error, OSError) and not isinstance(error, PermissionError)
    )


class ErrorCodes(SchemaExtension):
    """Keeps coded errors, names request errors, masks the rest (SPEC §3).

    Through SchemaExtension's public hooks only: a result's errors once the operation is done,
    and each streamed result (a subscription's events) as it goes out.
    """

    def __init__(self) -> None:
        self._phase = "parse"
        self._streamed = False

    def on_validate(self) -> Iterator[None]:
        self._phase = "validate"
        context = self.execution_context
        if context.pre_execution_errors is None and _ambiguous(context.graphql_document, context):
            # Strawberry would name the first operation for the client and run it (a mutation,
            # maybe); the GraphQL spec (6.1, GetOperation) says this is a request error.
            context.pre_execution_errors = [
                GraphQLError("Must provide operation name if query contains multiple operations.")
            ]
        yield

    def on_execute(self) -> Iterator[None]:
        self._phase = "execute"
        yield

    def on_operation(self) -> Iterator[None]:
        self._streamed = False
        yield
        if not self._streamed:  # a stream's results were coded one by one
            self._code(self.execution_context.result)

    def on_stream_result(self, result: object) -> Iterator[None]:
        self._streamed = True
        self._code(result)
        yield

    def _code(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            setattr(result, "errors", [self._coded(e) for e in errors])  # noqa: B010 - typed `object`

    def _coded(self, error: GraphQLError) -> GraphQLError:
        if error.extensions and "code" in error.extensions:
            return error
        original = error.original_error
        if original is None or isinstance(original, GraphQLError):
            return self._request_error(error)
        if _is_unavailable(original):
            logger.warning("database unavailable: %s", type(original).__name__)
            code = Code.SERVICE_UNAVAILABLE
            return _relocated(error, message_of(code), {"code": code.value})
        request_id = self._request_id()
        logger.error("unexpected error (request_id=%s)", request_id, exc_info=original)
        code = Code.INTERNAL_SERVER_ERROR
        return _relocated(error, message_of(code), {"code": code.value, "requestId": request_id})

    def _request_error(self, error: GraphQLError) -> GraphQLError:
        if self._phase == "parse":
            code = Code.GRAPHQL_PARSE_FAILED
        elif self._phase == "validate":
            code = Code.GRAPHQL_VALIDATION_FAILED
        elif error.path is None:
            code = Code.BAD_USER_INPUT  # variable values that do not coerce
        else:
            code = Code.INTERNAL_SERVER_ERROR
        return _relocated(error, error.message, {**(error.extensions or {}), "code": code.value})

    def _request_id(self) -> str | None:
        context = self.execution_context.context
        return getattr(context, "request_id", None)


def _ambiguous(document: object, context: object) -> bool:
    """Several operations and no operationName to choose one.

    Strawberry keeps the client's operationName only privately (`operation_name` falls back to
    the first operation's); tests/hardening/test_request_errors.py fails if that changes.
    """
    if getattr(context, "_provided_operation_name", None) is not None:
        return False
    definitions = getattr(document, "definitions", ())
    return sum(isinstance(item, OperationDefinitionNode) for item in definitions) > 1


def _relocated(
    error: GraphQLError, message: str, extensions: dict[str, object] | None
) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )
