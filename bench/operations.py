"""What the benchmark sends: the front end's own documents (tests/contract/operations)."""

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


def request_body(scenario: str, user: str, task_id: str) -> dict[str, Any]:
    """The POST body of one request of `scenario`, as load.lua writes it too."""
    variables: dict[str, Any] = {"userId": user}
    if scenario == "tasks":
        variables["first"] = 20
    elif scenario in ("create", "createKeyed"):
        variables["input"] = {"title": "bench task"}
    else:
        variables["id"] = task_id
    name = OPERATIONS[scenario]
    return {"operationName": name, "query": operation(name), "variables": variables}


def request_headers(scenario: str, number: int) -> dict[str, str]:
    """Headers beyond Authorization: createKeyed's Idempotency-Key, new for every request."""
    return (
        {"idempotency-key": f"bench-{number}-{uuid.uuid4().hex}"}
        if scenario == "createKeyed"
        else {}
    )


def write_for_wrk(path: Path) -> Path:
    """One line per scenario for load.lua: `<scenario> <operation name> <document as JSON>`."""
    lines = [f"{s} {name} {json.dumps(operation(name))}" for s, name in OPERATIONS.items()]
    path.write_text("\n".join(lines) + "\n")
    return path
