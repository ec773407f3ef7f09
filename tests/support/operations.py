"""The front end's GraphQL documents (tests/contract/operations), each as a client sends it."""

from __future__ import annotations

from functools import cache

from taskql.documents import read_manifest
from tests.support.paths import OPERATIONS, REPO

MANIFEST = REPO / "trusted-documents.json"

_FRAGMENTS = (OPERATIONS / "TaskFields.graphql").read_text()
NAMES = sorted(path.stem for path in OPERATIONS.glob("*.graphql") if path.stem != "TaskFields")


@cache
def operation(name: str) -> str:
    """The document of operation `name`, with the fragment it spreads."""
    text = (OPERATIONS / f"{name}.graphql").read_text()
    return text + "\n" + _FRAGMENTS if "...TaskFields" in text else text


ME = operation("Me")
LIST_TASKS = operation("ListTasks")
GET_TASK = operation("GetTask")
CREATE_TASK = operation("CreateTask")
UPDATE_TASK = operation("UpdateTask")
TOGGLE_TASK = operation("ToggleTaskComplete")
DELETE_TASK = operation("DeleteTask")


@cache
def trusted_ids() -> dict[str, str]:
    """Each contract operation's documentId in trusted-documents.json, by operation name."""
    found = {}
    for key, text in read_manifest(MANIFEST).items():
        head = text.split("{", 1)[0].split("(", 1)[0].split()  # e.g. ["query", "GetTask"]
        found[head[1]] = key
    return found
