"""The assembled GraphQL schema."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from graphql import GraphQLError
from strawberry import Schema
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from schema.errors import ErrorCodes
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
    return TaskqlSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[ErrorCodes, *limits.extensions(), *extensions],
        config=limits.config(),
    )


schema = build_schema()
