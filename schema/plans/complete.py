"""A plan's selections and how a resolved value is completed along them, as graphql-core does.

Each step keeps graphql-core's value-completion rules (Executor.complete_value and friends): the
same located errors, the same "Cannot return null" messages, a non-null field's error thrown to
its parent and a nullable one's recorded at its own position. Only the lookups are done once,
at compile time, instead of per field per request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import FieldNode, located_error
from graphql.execution.executor import CollectedErrors
from graphql.pyutils import Path, Undefined, inspect

Read = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class FieldSpot:
    """Where a field is: its response key, its nodes (for error locations) and its name."""

    key: str
    nodes: tuple[FieldNode, ...]
    parent: str  # the parent type's name, for messages and paths
    name: str

    def null_error(self) -> TypeError:
        return TypeError(f"Cannot return null for non-nullable field {self.parent}.{self.name}.")

    def locate(self, raw: Exception, path: Path) -> Any:
        return located_error(raw, list(self.nodes), path.as_list())


@dataclass(frozen=True, slots=True)
class Typename:
    key: str
    name: str


@dataclass(frozen=True, slots=True)
class Leaf:
    """A scalar or enum: read, then coerced by its type's coerce_output_value."""

    spot: FieldSpot
    read: Read
    coerce: Callable[[Any], Any]
    type_repr: str  # inspect() of the leaf type, for graphql-core's coercion message
    non_null: bool
    # A type whose values (of exactly that type) coerce to themselves, as graphql-core's
    # String and ID do for str and Boolean for bool: then there is nothing to call.
    passthrough: type | None = None

    def complete(self, value: Any, path: Path, errors: CollectedErrors) -> Any:
        if value is None:
            if self.non_null:
                raise self.spot.null_error()
            return None
        coerced = self.coerce(value)
        if coerced is Undefined or coerced is None:
            raise TypeError(
                f"Expected `{self.type_repr}.coerce_output_value({inspect(value)})` to return"
                f" non-nullable value, returned: {inspect(coerced)}"
            )
        return coerced


@dataclass(frozen=True, slots=True)
class Child:
    """An object, or a list of objects, with its own selection."""

    spot: FieldSpot
    read: Read
    selection: Selection
    non_null: bool
    is_list: bool = False
    item_non_null: bool = False

    def complete(self, value: Any, path: Path, errors: CollectedErrors) -> Any:
        if value is None:
            if self.non_null:
                raise self.spot.null_error()
            return None
        if not self.is_list:
            return self.selection.complete(value, path, errors)
        items: list[dict[str, Any] | None] = []
        for index, item in enumerate(value):
            item_path = Path(path, index, None)
            try:
                if item is None:
                    if self.item_non_null:
                        raise self.spot.null_error()
                    items.append(None)
                    continue
                items.append(self.selection.complete(item, item_path, errors))
            except Exception as raw:
                error = self.spot.locate(raw, item_path)
                if self.item_non_null:
                    raise error from None
                errors.add(error, item_path)
                items.append(None)
        return items


Field = Typename | Leaf | Child


_TYPENAME, _LEAF, _CHILD = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Selection:
    """An object type's collected fields, in response order."""

    type_name: str
    fields: tuple[Field, ...]
    # (kind, response key, field): told apart by an int, not isinstance, in the hot loop.
    entries: tuple[tuple[int, str, Any], ...] = ()

    def __post_init__(self) -> None:
        entries = [
            (_TYPENAME, f.key, f.name)
            if isinstance(f, Typename)
            else (_LEAF if isinstance(f, Leaf) else _CHILD, f.spot.key, f)
            for f in self.fields
        ]
        object.__setattr__(self, "entries", tuple(entries))

    def complete(self, source: Any, path: Path | None, errors: CollectedErrors) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for kind, key, field in self.entries:
            if kind == _LEAF:
                # The common case inline: a value that needs no completion beyond coercion.
                try:
                    value = field.read(source)
                    if type(value) is field.passthrough:
                        data[key] = value
                        continue
                    if value is not None:
                        coerced = field.coerce(value)
                        if coerced is not None and coerced is not Undefined:
                            data[key] = coerced
                            continue
                    data[key] = field.complete(value, Path(path, key, self.type_name), errors)
                except Exception as raw:
                    data[key] = _failed(field, raw, Path(path, key, self.type_name), errors)
            elif kind == _TYPENAME:
                data[key] = field
            else:
                field_path = Path(path, key, self.type_name)
                try:
                    data[key] = field.complete(field.read(source), field_path, errors)
                except Exception as raw:
                    data[key] = _failed(field, raw, field_path, errors)
        return data


def _failed(field: Leaf | Child, raw: Exception, path: Path, errors: CollectedErrors) -> Any:
    """graphql-core's handle_field_error: a non-null field's error goes to its parent."""
    error = field.spot.locate(raw, path)
    if field.non_null:
        raise error from None
    errors.add(error, path)
    return None
