"""The assembled GraphQL schema."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from graphql import GraphQLError
from strawberry import Schema
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from schema.errors import ErrorCodes
from schema.execution import PlainFieldExecutionContext, plain_fields
from schema.limits import Limits
from schema.operations import Mutation, Query
from schema.plans import PlanCache
from schema.subscription import Subscription


class TaskqlSchema(Schema):
    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """Queries and mutations only: a subscription runs through `subscribe` (WebSocket).

        Strawberry would otherwise run a subscription sent over HTTP as if it were a query (a
        500), or stream it, which taskql does not offer.
        """
        allowed = set(allowed_operation_types or (OperationType.QUERY, OperationType.MUTATION))
        return await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed - {OperationType.SUBSCRIPTION},
            operation_extensions,
        )

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """ErrorCodes already logged what deserves a log; expected errors are not news."""


def build_schema(
    limits: Limits | None = None,
    extensions: Sequence[Callable[[], SchemaExtension]] = (),
    *,
    plans: bool = True,
) -> TaskqlSchema:
    limits = limits or Limits()
    # A class of this schema's own, told its plain fields once the schema is built.
    context_class: type[PlainFieldExecutionContext] = type(
        "TaskqlExecutionContext", (PlainFieldExecutionContext,), {"plain_fields": {}, "plans": None}
    )
    built = TaskqlSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[ErrorCodes, *limits.extensions(), *extensions],
        config=limits.config(),
        execution_context_class=context_class,
    )
    context_class.plain_fields = plain_fields(built)
    # Plans read fields as Strawberry's default resolver would; another resolver, no plans.
    if plans and built.config.default_resolver is getattr:
        context_class.plans = PlanCache(limits.document_cache_size or 256)
    return built
