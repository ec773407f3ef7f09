"""GraphQL abuse limits and the document cache: refused requests never reach a resolver."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from graphql import (
    BREAK,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    VisitorAction,
    parse,
    specified_rules,
)
from graphql.validation import ASTValidationRule, ValidationRule
from graphql.validation.rules import overlapping_fields_can_be_merged as overlapping
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import validate_document

# A limit is the client's mistake and is final, so it is a BAD_REQUEST (HTTP 400 under either media
# type), not a validation failure that legacy application/json clients would get with 200.
LIMIT_CODE = "BAD_REQUEST"
_TOO_LONG_WORDING = "Document contains more than"  # graphql-core's wording for max_tokens


@dataclass(frozen=True, slots=True)
class Limits:
    """How big a request may be; the defaults fit every front-end operation many times over."""

    max_depth: int = 10
    max_aliases: int = 20
    max_tokens: int = 1000
    max_operations: int = 1  # per HTTP request; 1 means batching is off
    document_cache_size: int = 256

    def extensions(self) -> list[Callable[[], SchemaExtension]]:
        rules = [size_limits(self.max_depth, self.max_aliases)]
        cache = DocumentCache(self.document_cache_size, self.max_tokens, rules)
        return [lambda: CheckedDocuments(cache)]

    def config(self) -> StrawberryConfig:
        batching = {"max_operations": self.max_operations} if self.max_operations > 1 else None
        return StrawberryConfig(batching_config=batching)  # type: ignore[arg-type]


def limit_error(message: str, limit: str, nodes: Any = None) -> GraphQLError:
    return GraphQLError(message, nodes, extensions={"code": LIMIT_CODE, "limit": limit})


@dataclass(slots=True)
class _Size:
    """How deep a definition goes and how many aliases it asks for, fragments included.

    Counted as Strawberry's QueryDepthLimiter and MaxAliasesLimiter count, which we replaced
    because they walk a fragment again at every spread: fragments that each spread the one
    below twice held the event loop for hours in under 1000 tokens. Depth counts fields with a
    selection set, minus introspection fields and all below them. Aliases count everywhere,
    once per spread that reaches them, since each is output the client asks for: the count
    may be 2**300, the work to get it stays linear.
    """

    depth: int = 0
    aliases: int = 0
    deepest: Node | None = None  # where `depth` is reached, for the error's location
    # Spreads with the depth they sit at; None inside an introspection field.
    spreads: list[tuple[FragmentSpreadNode, int | None]] = field(default_factory=list)


def _own_size(selection_set: SelectionSetNode) -> _Size:
    """A definition's size without its spreads, walked with a stack: nesting needs no recursion."""
    size = _Size()
    stack: list[tuple[SelectionSetNode, int | None]] = [(selection_set, 0)]
    while stack:
        selections, depth = stack.pop()
        for selection in selections.selections:
            if isinstance(selection, FragmentSpreadNode):
                size.spreads.append((selection, depth))
            elif isinstance(selection, InlineFragmentNode):
                stack.append((selection.selection_set, depth))
            elif isinstance(selection, FieldNode):
                if selection.alias:
                    size.aliases += 1
                if selection.selection_set is None:
                    continue
                inner = depth
                if depth is not None:  # introspection is exempt: its standard query nests deep
                    inner = None if selection.name.value.startswith("__") else depth + 1
                if inner is not None and inner > size.depth:
                    size.depth, size.deepest = inner, selection
                stack.append((selection.selection_set, inner))
    return size


class _FragmentSizes:
    """Every fragment's size, each measured once, so the work is linear in the document.

    A spread of an unknown fragment, or one that closes a cycle, adds nothing: graphql-core's
    KnownFragmentNamesRule and NoFragmentCyclesRule report those.
    """

    def __init__(self, document: DocumentNode) -> None:
        self.own = {
            definition.name.value: _own_size(definition.selection_set)
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        self.sizes: dict[str, _Size] = {}
        for root in self.own:
            self._settle(root)

    def _settle(self, root: str) -> None:
        # Depth first without recursion (fragments may chain further than the stack goes):
        # a fragment is sized once all it spreads are, or are found to be on the current path.
        path = [(root, iter(self.own[root].spreads))]
        on_path = {root}
        while path:
            name, spreads = path[-1]
            for spread, _ in spreads:
                target = spread.name.value
                if target in self.own and target not in self.sizes and target not in on_path:
                    path.append((target, iter(self.own[target].spreads)))
                    on_path.add(target)
                    break
            else:
                path.pop()
                on_path.remove(name)
                self.sizes[name] = self.total(self.own[name])

    def total(self, own: _Size) -> _Size:
        """A definition's size with its spreads, from the fragments' settled sizes."""
        size = _Size(own.depth, own.aliases, own.deepest)
        for spread, depth in own.spreads:
            fragment = self.sizes.get(spread.name.value)
            if fragment is None:
                continue
            size.aliases += fragment.aliases
            if depth is not None and depth + fragment.depth > size.depth:
                size.depth, size.deepest = depth + fragment.depth, spread
        return size


def size_limits(max_depth: int, max_aliases: int) -> type[ValidationRule]:
    """A rule refusing operations deeper than max_depth, and documents whose operations hold
    more than max_aliases aliases in all (Strawberry's limiter sums the document too)."""

    class SizeLimits(ValidationRule):
        def enter_document(self, document: DocumentNode, *_: Any) -> VisitorAction:
            # Measured on entering, before any other rule descends; reported errors past
            # graphql-core's max_errors then abort validation as an error, not an exception.
            fragments = _FragmentSizes(document)
            aliases = 0
            for operation in document.definitions:
                if not isinstance(operation, OperationDefinitionNode):
                    continue
                size = fragments.total(_own_size(operation.selection_set))
                aliases += size.aliases
                if size.depth > max_depth:
                    name = operation.name.value if operation.name else "anonymous"
                    message = f"'{name}' exceeds maximum operation depth of {max_depth}"
                    self.report_error(limit_error(message, "depth", size.deepest))
            if aliases > max_aliases:
                message = f"{aliases} aliases found. Allowed: {max_aliases}"
                self.report_error(limit_error(message, "aliases"))
            return BREAK  # nothing left to see: the rest of the walk skips this rule

    return SizeLimits


@dataclass(slots=True)
class _Checked:
    """A parsed document and, once validated, its validation errors."""

    document: DocumentNode
    errors: list[GraphQLError] | None = None


class DocumentCache:
    """Parsed and validated documents of one schema and its limits, by query text.

    Keyed by the text, whose hash Python keeps: a DocumentNode's hash walks the whole tree
    on every lookup. The rules are fixed per cache, so a stricter limit has its own cache.
    """

    def __init__(self, maxsize: int, max_tokens: int, rules: Sequence[type[ASTValidationRule]]):
        self.max_tokens = max_tokens
        self.rules = (*specified_rules, *rules)
        self.parsed: Callable[[str], _Checked] = (
            lru_cache(maxsize=maxsize)(self._parse) if maxsize > 0 else self._parse
        )

    def _parse(self, query: str) -> _Checked:
        return _Checked(parse(query, max_tokens=self.max_tokens))

    def validate(self, schema: GraphQLSchema, checked: _Checked) -> list[GraphQLError]:
        if checked.errors is None:  # two first requests may both validate: same answer
            checked.errors = [_coded_abort(e) for e in self._validate(schema, checked.document)]
        return checked.errors

    def _validate(self, schema: GraphQLSchema, document: DocumentNode) -> list[GraphQLError]:
        # graphql-core's check that same-named fields merge is quadratic in them: 240 `me { id }`
        # (under 1000 tokens) cost 0.3 s of the event loop with its default budget. Its budget
        # is a module attribute read when a validation starts; it is lowered for ours only, and
        # put back before anything else can run (validation never awaits).
        default = overlapping.MAX_COMPLEXITY_BUDGET
        overlapping.MAX_COMPLEXITY_BUDGET = VALIDATION_BUDGET
        try:
            return validate_document(schema, document, self.rules)
        finally:
            overlapping.MAX_COMPLEXITY_BUDGET = default


# Ten times what GraphiQL's introspection query needs; a page of tasks needs a few dozen.
VALIDATION_BUDGET = 20_000


def _coded_abort(error: GraphQLError) -> GraphQLError:
    """graphql-core's "Validation aborted." (its work budget ran out) as the limit it is."""
    if not isinstance(error, ValidationAbortedError):
        return error
    return limit_error("Validation aborted: the document is too costly to check.", "complexity")


class CheckedDocuments(SchemaExtension):
    """Parses with the token limit and validates with the limit rules, through the cache.

    Strawberry's own ParserCache parses before its hook yields, so a syntax error escapes the
    error processing that gives every error a code; here a failed parse is left to Strawberry,
    which reports it as GRAPHQL_PARSE_FAILED (and the token limit as BAD_REQUEST).
    """

    def __init__(self, cache: DocumentCache) -> None:
        self.cache = cache
        self._checked: _Checked | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.cache.max_tokens
        if context.query and context.graphql_document is None:
            # On failure Strawberry parses again, inside its error handling, and reports it.
            with contextlib.suppress(Exception):
                self._checked = self.cache.parsed(context.query)
                context.graphql_document = self._checked.document
        yield
        for error in context.pre_execution_errors or ():
            if isinstance(error, GraphQLSyntaxError) and _TOO_LONG_WORDING in error.message:
                error.extensions = {"code": LIMIT_CODE, "limit": "tokens"}

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if self._checked is not None and context.pre_execution_errors is None:
            context.pre_execution_errors = self.cache.validate(
                context.schema._schema, self._checked
            )
        else:
            context.validation_rules = self.cache.rules
        yield
