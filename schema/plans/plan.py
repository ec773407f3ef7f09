"""A compiled operation: its root fields, each with its resolver, arguments and selection."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
)
from graphql.execution.collect_fields import GroupedFieldSet
from graphql.execution.executor import CollectedErrors
from graphql.execution.values import VariableValues, get_argument_values
from graphql.pyutils import Path
from strawberry.permission import BasePermission

from schema.context import Context
from schema.plans.complete import Child, FieldSpot, Leaf, Typename
from schema.plans.roots import Resolve, check_permissions


@dataclass(frozen=True, slots=True)
class Root:
    """A root field, run as graphql-core's execute_field runs it: arguments, then the
    resolver (its permissions first, as Strawberry's PermissionExtension checks them), then
    completion; any exception becomes the field's located error."""

    spot: FieldSpot
    field: GraphQLField
    node: FieldNode  # the first of the group: graphql-core takes its arguments
    has_arguments: bool
    permissions: Sequence[BasePermission]
    resolve: Resolve
    completion: Leaf | Child

    async def run(
        self,
        context: Context,
        variables: VariableValues,
        hide_suggestions: bool,
        errors: CollectedErrors,
    ) -> Any:
        path = Path(None, self.spot.key, self.spot.parent)
        try:
            arguments = (
                get_argument_values(self.field, self.node, variables, None, hide_suggestions)
                if self.has_arguments
                else {}
            )
            check_permissions(self.permissions, context, arguments)
            value = await self.resolve(context, arguments)
            return self.completion.complete(value, path, errors)
        except Exception as raw:
            error = self.spot.locate(raw, path)
            if self.completion.non_null:
                raise error from None
            errors.add(error, path)
            return None


@dataclass(frozen=True, slots=True)
class Plan:
    """What one operation of one document does, fixed once it is compiled."""

    serial: bool  # a mutation: root fields one after another
    root_type: GraphQLObjectType
    grouped_field_set: GroupedFieldSet  # as graphql-core collects it, for the mutation rule
    roots: tuple[Root | Typename, ...]
    fragments: tuple[tuple[str, FragmentDefinitionNode], ...]

    def fits(self, fragment_definitions: Mapping[str, FragmentDefinitionNode]) -> bool:
        """The request's fragments are the ones compiled (the same document's nodes)."""
        return len(fragment_definitions) == len(self.fragments) and all(
            fragment_definitions.get(name) is node for name, node in self.fragments
        )

    async def run(
        self,
        context: Context,
        variables: VariableValues,
        hide_suggestions: bool,
        errors: CollectedErrors,
    ) -> dict[str, Any] | None:
        """The response data; None when a non-null root field failed (its error recorded at
        the root, as graphql-core's execute_operation records it)."""
        data: dict[str, Any] = {}
        try:
            for root in self.roots:
                if isinstance(root, Typename):
                    data[root.key] = root.name
                else:
                    data[root.spot.key] = await root.run(
                        context, variables, hide_suggestions, errors
                    )
        except GraphQLError as error:
            errors.add(error, None)
            return None
        return data
