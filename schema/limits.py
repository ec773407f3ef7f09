"""GraphQL abuse limits and the document cache: refused requests never reach a resolver."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    ValidationContext,
    parse,
    specified_rules,
)
from graphql.validation import ASTValidationRule, ValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator
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
        rules: list[type[ASTValidationRule]] = [
            coded_limit(depth_validator(self.max_depth, None), "depth"),
            coded_limit(alias_validator(self.max_aliases), "aliases"),
        ]
        cache = DocumentCache(self.document_cache_size, self.max_tokens, rules)
        return [lambda: CheckedDocuments(cache)]

    def config(self) -> StrawberryConfig:
        batching = {"max_operations": self.max_operations} if self.max_operations > 1 else None
        return StrawberryConfig(batching_config=batching)  # type: ignore[arg-type]


def limit_error(message: str, limit: str, nodes: Any = None) -> GraphQLError:
    return GraphQLError(message, nodes, extensions={"code": LIMIT_CODE, "limit": limit})


class _CodingContext:
    """A validation context whose reported errors carry our code (Strawberry's carry none)."""

    def __init__(self, context: ValidationContext, limit: str) -> None:
        self._context = context
        self._limit = limit

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def report_error(self, error: GraphQLError) -> None:
        self._context.report_error(limit_error(error.message, self._limit, error.nodes))


def coded_limit(rule: type[ValidationRule], limit: str) -> type[ValidationRule]:
    """Strawberry's limit rule, reporting BAD_REQUEST errors and never crashing validation."""

    class CodedLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            # Strawberry's depth rule looks fragments up unguarded; a spread of an unknown
            # fragment is reported by graphql-core's KnownFragmentNames rule anyway.
            with contextlib.suppress(KeyError):
                rule(_CodingContext(context, limit))  # type: ignore[arg-type]

    CodedLimit.__name__ = f"{limit.title()}Limit"
    return CodedLimit


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
            checked.errors = validate_document(schema, checked.document, self.rules)
        return checked.errors


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
