"""Compiling an operation into a Plan, or finding out that it needs the general path.

Fields are collected by graphql-core's own collect_fields/collect_subfields, so response keys,
their order and the merging of repeated fields and fragments are graphql-core's. Whatever the
plan does not know (directives, which could make the collection depend on variables;
introspection; subscriptions; resolvers other than the ones restated in roots.py; field
extensions other than IsOwner's permission) raises Unplannable.
"""

from __future__ import annotations

from collections.abc import Iterator
from operator import attrgetter, itemgetter
from typing import Any

from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    Node,
    OperationType,
    SelectionSetNode,
    is_leaf_type,
)
from graphql.execution.collect_fields import (
    FieldDetailsList,
    GroupedFieldSet,
    collect_fields,
    collect_subfields,
)
from graphql.execution.executor import Executor
from graphql.pyutils import inspect
from graphql.type.scalars import serialize_boolean, serialize_id, serialize_string
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from auth.permissions import IsOwner
from db.models import TaskState
from schema.plans.complete import Child, Field, FieldSpot, Leaf, Read, Selection, Typename
from schema.plans.plan import Plan, Root
from schema.plans.roots import ROOTS


class Unplannable(Exception):  # noqa: N818 - a verdict, not a failure
    """This operation takes the general path."""


def _identity(value: Any) -> Any:
    return value


def _task_id(row: TaskState) -> str:
    return str(row.id)


_ROW = {name: itemgetter(index) for index, name in enumerate(TaskState._fields)}
# What each object field is read from: Task from a TaskState row (Task.from_row), TaskConnection
# and PageInfo from a resolvers.tasks.Page (TaskConnection.from_page), Viewer from the user.
READERS: dict[tuple[str, str], Read] = {
    ("Task", "id"): _task_id,
    ("Task", "userId"): _ROW["user_id"],
    ("Task", "title"): _ROW["title"],
    ("Task", "description"): _ROW["description"],
    ("Task", "completed"): _ROW["completed"],
    ("Task", "createdAt"): _ROW["created_at"],
    ("Task", "updatedAt"): _ROW["updated_at"],
    ("Task", "version"): _ROW["version"],
    ("TaskConnection", "items"): attrgetter("items"),
    ("TaskConnection", "total"): attrgetter("total"),
    ("TaskConnection", "pageInfo"): _identity,
    ("PageInfo", "hasNextPage"): attrgetter("has_next_page"),
    ("PageInfo", "endCursor"): attrgetter("end_cursor"),
    ("Viewer", "id"): attrgetter("user_id"),
    ("Viewer", "email"): attrgetter("email"),
    ("Viewer", "name"): attrgetter("name"),
}


# graphql-core's own coercions that hand a value of exactly this type back unchanged.
_PASSTHROUGH: dict[Any, type] = {serialize_string: str, serialize_id: str, serialize_boolean: bool}


def compile_plan(executor: Executor[Any]) -> Plan:
    operation = executor.operation
    if operation.operation not in (OperationType.QUERY, OperationType.MUTATION):
        raise Unplannable("subscription")
    fragments = executor.fragment_definitions
    if _has_directives(operation, *fragments.values()):
        raise Unplannable("directives")
    if any(details.variable_signatures for details in executor.fragments.values()):
        raise Unplannable("fragment variables")
    root_type = executor.schema.get_root_type(operation.operation)
    if root_type is None:
        raise Unplannable("no root type")
    grouped = _collected(
        collect_fields(
            executor.schema,
            executor.fragments,
            executor.variable_values,
            root_type,
            operation,
            executor.hide_suggestions,
        )
    )
    roots = tuple(_root(executor, root_type, key, details) for key, details in grouped.items())
    resolved = sum(isinstance(root, Root) for root in roots)
    serial = operation.operation is OperationType.MUTATION
    # Concurrent root fields interleave their errors by timing; one field has no such question.
    if resolved == 0 or (resolved > 1 and not serial):
        raise Unplannable("not exactly one query field")
    return Plan(serial, root_type, grouped, roots, tuple(fragments.items()))


def _collected(collected: Any) -> GroupedFieldSet:
    grouped, defer_usages, _forbidden = collected
    if defer_usages:
        raise Unplannable("@defer")
    for details_list in grouped.values():
        for details in details_list:
            if details.defer_usage is not None or details.fragment_variable_values is not None:
                raise Unplannable("deferred or fragment variables")
    return grouped  # type: ignore[no-any-return]


def _root(
    executor: Executor[Any], root_type: GraphQLObjectType, key: str, details_list: FieldDetailsList
) -> Root | Typename:
    node = details_list[0].node
    name = node.name.value
    if name == "__typename":
        return Typename(key, root_type.name)
    field = root_type.fields.get(name)
    definition = _definition(field)
    if field is None or definition is None or definition.base_resolver is None:
        raise Unplannable(f"no plan for {root_type.name}.{name}")
    resolve = ROOTS.get(definition.base_resolver.wrapped_func)  # type: ignore[arg-type]
    if resolve is None:
        raise Unplannable(f"no plan for {root_type.name}.{name}")
    spot = FieldSpot(key, tuple(details.node for details in details_list), root_type.name, name)
    return Root(
        spot,
        field,
        node,
        bool(field.args or node.arguments),
        _permissions(definition),
        resolve,
        _completion(executor, field.type, details_list, spot, _identity),
    )


def _definition(field: Any) -> StrawberryField | None:
    definition = (getattr(field, "extensions", None) or {}).get(
        GraphQLCoreConverter.DEFINITION_BACKREF
    )
    return definition if isinstance(definition, StrawberryField) else None


def _permissions(definition: StrawberryField) -> tuple[BasePermission, ...]:
    """The field's permissions, when its only field extension is a plain permission check by
    IsOwner (whose rule check_permissions knows the arguments of)."""
    extensions = definition.extensions
    if len(extensions) != 1 or type(extensions[0]) is not PermissionExtension:
        raise Unplannable("field extensions")
    extension = extensions[0]
    if extension.fail_silently or not all(type(p) is IsOwner for p in extension.permissions):
        raise Unplannable("permissions")
    return tuple(extension.permissions)


def _completion(
    executor: Executor[Any],
    output: GraphQLOutputType,
    details_list: FieldDetailsList,
    spot: FieldSpot,
    read: Read,
) -> Leaf | Child:
    non_null = isinstance(output, GraphQLNonNull)
    inner = output.of_type if isinstance(output, GraphQLNonNull) else output
    if is_leaf_type(inner):
        coerce = inner.coerce_output_value
        passthrough = _PASSTHROUGH.get(coerce)
        return Leaf(spot, read, coerce, inspect(inner), non_null, passthrough)
    if isinstance(inner, GraphQLList):
        item = inner.of_type
        item_non_null = isinstance(item, GraphQLNonNull)
        item_type = item.of_type if isinstance(item, GraphQLNonNull) else item
        selection = _selection(executor, item_type, details_list)
        return Child(spot, read, selection, non_null, is_list=True, item_non_null=item_non_null)
    return Child(spot, read, _selection(executor, inner, details_list), non_null)


def _selection(executor: Executor[Any], output: Any, details_list: FieldDetailsList) -> Selection:
    if not isinstance(output, GraphQLObjectType) or output.is_type_of is not None:
        raise Unplannable("not a plain object type")
    grouped = _collected(
        collect_subfields(
            executor.schema,
            executor.fragments,
            executor.variable_values,
            executor.operation,
            output,
            details_list,
            executor.hide_suggestions,
        )
    )
    fields: list[Field] = []
    for key, sub_details in grouped.items():
        name = sub_details[0].node.name.value
        if name == "__typename":
            fields.append(Typename(key, output.name))
            continue
        field = output.fields.get(name)
        definition = _definition(field)
        read = READERS.get((output.name, name))
        if (
            field is None
            or read is None
            or field.args
            or definition is None
            or not definition.is_basic_field
            or not getattr(field.resolve, "_is_default", False)
        ):
            raise Unplannable(f"no plan for {output.name}.{name}")
        spot = FieldSpot(key, tuple(d.node for d in sub_details), output.name, name)
        fields.append(_completion(executor, field.type, sub_details, spot, read))
    return Selection(output.name, tuple(fields))


def _has_directives(*definitions: Any) -> bool:
    """Any directive anywhere: @skip/@include would make the fields depend on variables."""
    return any(getattr(node, "directives", None) for node in _walk(definitions))


def _walk(definitions: tuple[Any, ...]) -> Iterator[Node]:
    stack: list[Any] = list(definitions)
    while stack:
        node = stack.pop()
        yield node
        stack.extend(getattr(node, "variable_definitions", None) or ())
        selection_set: SelectionSetNode | None = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
