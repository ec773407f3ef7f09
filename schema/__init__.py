"""The assembled GraphQL schema."""

from __future__ import annotations

from graphql import GraphQLError
from strawberry import Schema
from strawberry.types import ExecutionContext

from schema.errors import ErrorCodes
from schema.operations import Mutation, Query


class TaskqlSchema(Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """ErrorCodes already logged what deserves a log; expected errors are not news."""


def build_schema() -> TaskqlSchema:
    return TaskqlSchema(query=Query, mutation=Mutation, extensions=[ErrorCodes])


schema = build_schema()
