"""taskql's graphql-core execution: compiled plans where they apply, and the general path
with a shortcut for fields that only read an attribute (a page of tasks)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from graphql import (
    GraphQLError,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    is_leaf_type,
)
from graphql.execution import ExecutionResult
from graphql.execution.values import get_argument_values
from graphql.pyutils import AwaitableOrValue, Path, Undefined
from strawberry import Schema
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from contract.errors import Code, graphql_error
from schema.context import Context
from schema.plans import Plan, PlanCache

# A field that only reads an attribute and returns a scalar or enum: its attribute's name, its
# leaf type, and whether it is non-null.
_PlainField = tuple[str, GraphQLLeafType, bool]


class PlainFieldExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's execution, with a shortcut for the commonest field of all.

    A page of tasks is over a hundred fields that each read one attribute and coerce a scalar;
    the general path builds a resolve info, calls Strawberry's wrappers and recurses through
    value completion for every one of them. Here such a field's value is read and coerced
    directly. Whenever that is not the plain case (null where non-null, an exception, an
    awaitable, a failed coercion, field middleware), the field takes the general path, so
    errors, nulls and locations are exactly graphql-core's.
    """

    plain_fields: ClassVar[dict[str, dict[str, _PlainField]]] = {}
    plans: ClassVar[PlanCache | None] = None  # None: every operation takes the general path

    def execute_operation(self, serially: bool | None = None) -> AwaitableOrValue[Any]:
        """The operation's compiled plan when it has one, else graphql-core's execution.

        Variables were coerced (Executor.build) and the extensions ran before this point, and
        a plan's result is built by the same build_response, so errors and status rules after
        it are the general path's. Field middleware, an abort signal or an explicit `serially`
        are the general path's business.
        """
        cache = self.plans
        plan = None
        if (
            cache is not None
            and serially is None
            and self.abort_signal is None
            and isinstance(self.context_value, Context)  # what the plans' resolvers read
        ):
            middleware = self.middleware_manager
            if middleware is None or not middleware.middlewares:
                plan = cache.plan_for(self)
        if plan is None:
            if cache is not None:
                cache.stats.fallbacks += 1
            return super().execute_operation(serially)
        cache.stats.runs += 1  # type: ignore[union-attr]
        return self._run_plan(plan)

    async def _run_plan(self, plan: Plan) -> ExecutionResult:
        errors = self.collected_errors
        if plan.serial:
            denied = self._denied_root_fields(plan.root_type, plan.grouped_field_set)
            if denied:  # the mutation rule of execute_collected_root_fields, on the same fields
                for error, field_path in denied:
                    errors.add(error, field_path)
                return self.build_response(None)  # type: ignore[return-value]
        context, variables = self.context_value, self.variable_values
        data = await plan.run(context, variables, self.hide_suggestions, errors)
        return self.build_response(data)  # type: ignore[return-value]

    def _plain(self, parent_type: GraphQLObjectType) -> dict[str, _PlainField] | None:
        middleware = self.middleware_manager
        if middleware is not None and middleware.middlewares:
            return None  # field middleware must see every field
        return self.plain_fields.get(parent_type.name)

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        fields = self._plain(parent_type)
        if fields:
            # Inlined, no call per field: this loop runs for every field of every task on a page.
            is_awaitable = self.is_awaitable
            results: dict[str, Any] = {}
            try:
                for response_name, field_details_list in grouped_field_set.items():
                    plain = fields.get(field_details_list[0].node.name.value)
                    if plain is None:
                        break  # the whole object the general way; reading is repeatable
                    value = getattr(source_value, plain[0])
                    if value is None:
                        if plain[2]:
                            break
                        results[response_name] = None
                        continue
                    if type(value) not in _SIMPLE and (
                        isinstance(value, Exception) or is_awaitable(value)
                    ):
                        break
                    coerced = plain[1].coerce_output_value(value)
                    if coerced is Undefined or coerced is None:
                        break
                    results[response_name] = coerced
                else:
                    return results
            except Exception:  # noqa: S110 - the general path reports it properly
                pass
        return super().execute_fields(
            parent_type, source_value, path, grouped_field_set, position_context
        )

    def execute_collected_root_fields(
        self,
        root_type: GraphQLObjectType,
        root_value: Any,
        grouped_field_set: Any,
        serially: bool,
        new_defer_usages: Any,
    ) -> Any:
        """A mutation's root fields run one after another (`serially`): none runs if any names
        another user, so a 403 never hides a write that happened (IsOwner alone checks each
        field only as its turn comes, after the fields before it have committed)."""
        denied = self._denied_root_fields(root_type, grouped_field_set) if serially else []
        if denied:
            for error, field_path in denied:
                self.collected_errors.add(error, field_path)
            return None  # data: null, every error FORBIDDEN: the contract's 403
        return super().execute_collected_root_fields(
            root_type, root_value, grouped_field_set, serially, new_defer_usages
        )

    def _denied_root_fields(
        self, parent_type: GraphQLObjectType, grouped_field_set: Any
    ) -> list[tuple[GraphQLError, Path]]:
        user = getattr(self.context_value, "user", None)
        if user is None:
            return []  # each field answers UNAUTHENTICATED itself, before anything runs
        denied = []
        for response_name, field_details_list in grouped_field_set.items():
            details = field_details_list[0]
            field = parent_type.fields.get(details.node.name.value)
            if field is None or "userId" not in field.args:
                continue
            try:
                arguments = get_argument_values(
                    field, details.node, self.variable_values, details.fragment_variable_values
                )
            except GraphQLError:
                continue  # the field reports it when its turn comes
            if arguments.get("userId", user.user_id) != user.user_id:
                path = Path(None, response_name, parent_type.name)
                error = graphql_error(
                    Code.FORBIDDEN,
                    nodes=[item.node for item in field_details_list],
                    path=path.as_list(),
                )
                denied.append((error, path))
        return denied


# Values that are neither exceptions nor awaitables, known without asking.
_SIMPLE = frozenset({str, int, float, bool, datetime})


def plain_fields(schema: Schema) -> dict[str, dict[str, _PlainField]]:
    """Fields Strawberry resolves with its default resolver (getattr) and a leaf type."""
    if schema.config.default_resolver is not getattr:
        return {}
    found: dict[str, dict[str, _PlainField]] = {}
    for type_name, graphql_type in schema._schema.type_map.items():
        if not isinstance(graphql_type, GraphQLObjectType) or type_name.startswith("__"):
            continue
        for field_name, graphql_field in graphql_type.fields.items():
            definition = (graphql_field.extensions or {}).get(
                GraphQLCoreConverter.DEFINITION_BACKREF
            )
            if not (
                isinstance(definition, StrawberryField)
                and definition.is_basic_field
                and getattr(graphql_field.resolve, "_is_default", False)
                and not graphql_field.args
            ):
                continue
            output: GraphQLOutputType = graphql_field.type
            non_null = isinstance(output, GraphQLNonNull)
            leaf = output.of_type if isinstance(output, GraphQLNonNull) else output
            if is_leaf_type(leaf):
                found.setdefault(type_name, {})[field_name] = (
                    definition.python_name,
                    leaf,
                    non_null,
                )
    return found
