"""The assembled GraphQL schema."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from graphql import GraphQLError
from strawberry import Schema
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from schema.errors import ErrorCodes
from schema.execution import PlainFieldExecutionContext, plain_fields
from schema.limits import Limits
from schema.operations import Mutation, Query
from schema.subscription import Subscription


class TaskqlSchema(Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """ErrorCodes already logged what deserves a log; expected errors are not news."""


def build_schema(
    limits: Limits | None = None, extensions: Sequence[Callable[[], SchemaExtension]] = ()
) -> TaskqlSchema:
    limits = limits or Limits()
    # A class of this schema's own, told its plain fields once the schema is built.
    context_class: type[PlainFieldExecutionContext] = type(
        "TaskqlExecutionContext", (PlainFieldExecutionContext,), {"plain_fields": {}}
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
    return built


schema = build_schema()
