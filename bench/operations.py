"""What the benchmark sends: the front end's own documents (tests/contract/operations) to taskql
and the floor, and their PostGraphile v4 equivalents, asking for the same fields."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from tests.support.operations import operation

# Each scenario is one operation of the front end's, by name (which the floor dispatches on).
OPERATIONS = {
    "tasks": "ListTasks",
    "task": "GetTask",
    "create": "CreateTask",
    "createKeyed": "CreateTask",  # with a fresh Idempotency-Key each: the key's cost (SPEC §8)
    "toggle": "ToggleTaskComplete",
}

# PostGraphile's generated schema for the same table. Row-level security does the owner filter
# (no userId argument), the page is ordered as taskql orders it (created_at, then id, both
# descending), and a toggle is updateTaskById with `completed` set: PostGraphile's CRUD has no
# "NOT completed", so load.lua alternates true and false instead.
_PG_FIELDS = (
    "fragment TaskFields on Task {\n"
    "  id\n  userId\n  title\n  description\n  completed\n  createdAt\n  updatedAt\n  version\n}\n"
)
POSTGRAPHILE = {
    "tasks": "query ListTasks($first: Int) {\n"
    "  allTasks(first: $first, orderBy: [CREATED_AT_DESC, ID_DESC]) {\n"
    "    nodes { ...TaskFields }\n    totalCount\n    pageInfo { hasNextPage endCursor }\n  }\n}\n",
    "task": "query GetTask($id: Int!) {\n  taskById(id: $id) { ...TaskFields }\n}\n",
    "create": "mutation CreateTask($input: CreateTaskInput!) {\n"
    "  createTask(input: $input) { task { ...TaskFields } }\n}\n",
    "toggle": "mutation ToggleTaskComplete($input: UpdateTaskByIdInput!) {\n"
    "  updateTaskById(input: $input) { task { ...TaskFields } }\n}\n",
}
DIALECTS = ("taskql", "postgraphile")


def supported(dialect: str, algorithm: str, scenario: str) -> bool:
    """PostGraphile's jsonwebtoken has no EdDSA, and PostGraphile has no Idempotency-Key."""
    return dialect != "postgraphile" or (algorithm == "HS256" and scenario in POSTGRAPHILE)


def document(dialect: str, scenario: str) -> tuple[str, str]:
    """(operation name, document) of `scenario` in `dialect`."""
    name = OPERATIONS[scenario]
    if dialect == "postgraphile":
        return name, POSTGRAPHILE[scenario] + _PG_FIELDS
    return name, operation(name)


def request_body(scenario: str, user: str, task_id: str, dialect: str = "taskql") -> dict[str, Any]:
    """The POST body of one request of `scenario`, as load.lua writes it too."""
    variables: dict[str, Any] = {}
    if dialect == "postgraphile":
        if scenario == "tasks":
            variables["first"] = 20
        elif scenario == "create":
            variables["input"] = {"task": {"userId": user, "title": "bench task"}}
        elif scenario == "toggle":
            variables["input"] = {"id": int(task_id), "taskPatch": {"completed": True}}
        else:
            variables["id"] = int(task_id)
    else:
        variables["userId"] = user
        if scenario == "tasks":
            variables["first"] = 20
        elif scenario in ("create", "createKeyed"):
            variables["input"] = {"title": "bench task"}
        else:
            variables["id"] = task_id
    name, query = document(dialect, scenario)
    return {"operationName": name, "query": query, "variables": variables}


def request_headers(scenario: str, number: int) -> dict[str, str]:
    """Headers beyond Authorization: createKeyed's Idempotency-Key, new for every request."""
    return (
        {"idempotency-key": f"bench-{number}-{uuid.uuid4().hex}"}
        if scenario == "createKeyed"
        else {}
    )


def operations_file(directory: Path, dialect: str) -> Path:
    return directory / f"operations-{dialect}.txt"


def write_for_wrk(directory: Path) -> None:
    """Per dialect, one line per scenario for load.lua: `<scenario> <operation name> <document
    as JSON>`."""
    for dialect in DIALECTS:
        scenarios = POSTGRAPHILE if dialect == "postgraphile" else OPERATIONS
        lines = [f"{s} {OPERATIONS[s]} {json.dumps(document(dialect, s)[1])}" for s in scenarios]
        operations_file(directory, dialect).write_text("\n".join(lines) + "\n")
