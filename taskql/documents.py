"""Trusted documents (SPEC §9): the front end's operations, named by the sha256 of their text.

A manifest is GraphQL Code Generator's persisted-documents shape, `{"sha256:<hex>": "<text>"}`.
taskql builds its own from tests/contract/operations exactly as the Next.js example's generator
writes each operation's text (the operation, then the fragments it uses, by name), so the ids
the example sends are the manifest's. A request names a document by `documentId` (the
GraphQL-over-HTTP draft) or by Apollo's automatic persisted queries (APQ); with
TRUSTED_DOCUMENTS_ONLY anything else is refused before it is parsed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    OperationDefinitionNode,
    Source,
    parse,
    visit,
)
from graphql.language import Visitor

from contract.errors import Code, Refusal, graphql_error

PREFIX = "sha256:"
_HEX = re.compile(r"[0-9a-f]{64}")
_INTROSPECTION = frozenset({"__schema", "__type", "__typename"})
_APQ_VERSION = 1
_APQ_CACHE_SIZE = 1000  # documents registered by APQ, per process (the manifest is unbounded)


def document_id(text: str) -> str:
    return PREFIX + hashlib.sha256(text.encode()).hexdigest()


class DocumentRefused(Exception):  # noqa: N818 - a refusal, not a failure
    """A request's document cannot run: over HTTP `refusal` is the whole answer, over a
    WebSocket `error` is the subscription's."""

    def __init__(self, code: Code, message: str | None = None) -> None:
        super().__init__(code.value)
        self.code = code
        self.message = message

    @property
    def refusal(self) -> Refusal:
        return Refusal.of(self.code, self.message)

    @property
    def error(self) -> GraphQLError:
        return graphql_error(self.code, self.message)


class TrustedDocuments:
    """Which document a request runs: its own `query`, or the one its id names.

    `only` refuses every document outside the manifest; `introspection` still lets an
    introspection-only document through then (GraphiQL's, when GRAPHIQL is on).
    """

    def __init__(
        self,
        manifest: Mapping[str, str] | None = None,
        *,
        only: bool = False,
        introspection: bool = False,
        max_tokens: int | None = None,
    ) -> None:
        self.manifest = dict(manifest or {})
        self.only = only
        self.introspection = introspection
        self.max_tokens = max_tokens
        self._registered: OrderedDict[str, str] = OrderedDict()  # APQ, least recent first

    def resolve(self, item: Mapping[str, object]) -> str | None:
        """The text `item` (one operation of a request, its members type-checked) runs, None
        when it names none (the caller reports that as usual), or DocumentRefused."""
        query = item.get("query")
        named = item.get("documentId")
        persisted = _persisted_hash(item.get("extensions"))
        if isinstance(named, str):
            if query:  # graphql-ws insists on a `query` string: "" beside an id is none
                raise DocumentRefused(
                    Code.BAD_REQUEST, "Send either `query` or `documentId`, not both."
                )
            text = self.manifest.get(named)
            if text is None:
                raise DocumentRefused(
                    Code.PERSISTED_QUERY_NOT_FOUND, "No trusted document has this documentId."
                )
            return text
        if persisted is not None and not query:
            text = self.manifest.get(persisted) or self._recall(persisted)
            if text is None:
                raise DocumentRefused(Code.PERSISTED_QUERY_NOT_FOUND)
            return text
        if not isinstance(query, str):
            return None
        if persisted is not None and document_id(query) != persisted:
            raise DocumentRefused(Code.BAD_REQUEST, "provided sha does not match query")
        if self.only and not self._trusted(query):
            raise DocumentRefused(Code.QUERY_NOT_IN_SAFELIST)
        if persisted is not None and persisted not in self.manifest:
            self._register(persisted, query)
        return query

    def text_of(self, item: Mapping[str, object]) -> str | None:
        """The text `item` would run, without registering or refusing anything."""
        query = item.get("query")
        if isinstance(query, str) and query:
            return query
        named = item.get("documentId")
        if isinstance(named, str):
            return self.manifest.get(named)
        try:
            persisted = _persisted_hash(item.get("extensions"))
        except DocumentRefused:
            return None
        if persisted is None:
            return None
        return self.manifest.get(persisted) or self._registered.get(persisted)

    def _trusted(self, query: str) -> bool:
        if document_id(query) in self.manifest:
            return True
        return self.introspection and _introspection_only(query, self.max_tokens)

    def _recall(self, key: str) -> str | None:
        if self.only:
            return None  # only the manifest's documents exist
        text = self._registered.get(key)
        if text is not None:
            self._registered.move_to_end(key)
        return text

    def _register(self, key: str, query: str) -> None:
        self._registered[key] = query
        self._registered.move_to_end(key)
        while len(self._registered) > _APQ_CACHE_SIZE:
            self._registered.popitem(last=False)


def _persisted_hash(extensions: object) -> str | None:
    """Apollo's `extensions.persistedQuery`, as the manifest's key; None when absent."""
    if not isinstance(extensions, Mapping) or "persistedQuery" not in extensions:
        return None
    persisted = extensions["persistedQuery"]
    if not isinstance(persisted, Mapping) or persisted.get("version") != _APQ_VERSION:
        raise DocumentRefused(Code.BAD_REQUEST, "Unsupported persisted query version: expected 1.")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not _HEX.fullmatch(digest.lower()):
        raise DocumentRefused(
            Code.BAD_REQUEST, "persistedQuery.sha256Hash must be 64 hexadecimal characters."
        )
    return PREFIX + digest.lower()


def _introspection_only(query: str, max_tokens: int | None) -> bool:
    """Every operation of `query` asks for introspection fields and nothing else."""
    try:
        document = parse(query, no_location=True, max_tokens=max_tokens)
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return bool(operations) and all(
        isinstance(selection, FieldNode) and selection.name.value in _INTROSPECTION
        for operation in operations
        for selection in operation.selection_set.selections
    )


def read_manifest(path: Path) -> dict[str, str]:
    """A manifest file, checked: every key is `sha256:` and the hex digest of its text."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"TRUSTED_DOCUMENTS: cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ValueError(f"TRUSTED_DOCUMENTS: {path} is not JSON ({exc})") from None
    if not isinstance(loaded, dict):
        raise ValueError(f"TRUSTED_DOCUMENTS: {path} must hold one JSON object")
    for key, text in loaded.items():
        if not isinstance(text, str):
            raise ValueError(f"TRUSTED_DOCUMENTS: {path}: the value of {key} is not a string")
        if key != document_id(text):
            raise ValueError(
                f"TRUSTED_DOCUMENTS: {path}: {key} is not the sha256 of its document "
                f"(expected {document_id(text)})"
            )
    return loaded


def build_manifest(directory: Path) -> dict[str, str]:
    """The manifest of the operations in `directory`'s .graphql files, by operation name.

    Each document is its operation's text followed by the fragments it uses (transitively),
    sorted by name and separated by blank lines: the text the example's generator sends.
    """
    operations: list[tuple[str, str, OperationDefinitionNode]] = []
    fragments: dict[str, tuple[str, FragmentDefinitionNode]] = {}
    for file in sorted(directory.glob("*.graphql")):
        body = file.read_text(encoding="utf-8")
        document = parse(Source(body, str(file)))
        for definition in document.definitions:
            text = _source_of(body, definition)
            if isinstance(definition, FragmentDefinitionNode):
                fragments[definition.name.value] = (text, definition)
            elif isinstance(definition, OperationDefinitionNode):
                if definition.name is None:
                    raise ValueError(f"{file}: an anonymous operation cannot be trusted by name")
                operations.append((definition.name.value, text, definition))
    manifest: dict[str, str] = {}
    for _, text, operation in sorted(operations, key=lambda entry: entry[0]):
        used = sorted(_fragments_used(operation, fragments))
        whole = "\n\n".join([text, *(fragments[name][0] for name in used)])
        manifest[document_id(whole)] = whole
    return manifest


def manifest_json(manifest: Mapping[str, str]) -> str:
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def _source_of(body: str, definition: object) -> str:
    loc = getattr(definition, "loc", None)
    if loc is None:  # parse() always records locations unless told not to
        raise ValueError("a definition without a location")
    return body[loc.start : loc.end]


def _fragments_used(
    node: OperationDefinitionNode | FragmentDefinitionNode,
    fragments: Mapping[str, tuple[str, FragmentDefinitionNode]],
    seen: set[str] | None = None,
) -> set[str]:
    seen = set() if seen is None else seen
    found: list[str] = []

    class Spreads(Visitor):
        def enter_fragment_spread(self, spread: FragmentSpreadNode, *_: object) -> None:
            found.append(spread.name.value)

    visit(DocumentNode(definitions=(node,)), Spreads())
    for name in found:
        if name in seen:
            continue
        if name not in fragments:
            raise ValueError(f"unknown fragment {name}")
        seen.add(name)
        _fragments_used(fragments[name][1], fragments, seen)
    return seen
