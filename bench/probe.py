"""Before anything is measured: every server answers every scenario correctly for its user.

A page must hold 20 of the user's own tasks, newest first, and another user's task must not be
readable: for PostGraphile that is what row-level security has to get right.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from bench.operations import request_body, supported
from bench.processes import Server


def probe(server: Server, algorithm: str, users_file: Path, scenarios: list[str]) -> None:
    scenarios = [s for s in scenarios if supported(server.dialect, algorithm, s)]
    if not scenarios:
        return
    lines = users_file.read_text().splitlines()
    token, user, task_ids = lines[0].split()
    other_task = lines[1].split()[2].split(",")[0]
    own_task = task_ids.split(",")[0]
    for scenario in scenarios:
        data = _ask(server, token, request_body(scenario, user, own_task, server.dialect))
        if not all(data.values()):
            raise SystemExit(f"bench: {server.name} answered {scenario} with {data}")
        if scenario == "tasks":
            _check_page(server, user, data)
    # taskql answers NOT_FOUND, PostGraphile a null taskById: either way, no task.
    stranger = _ask(server, token, request_body("task", user, other_task, server.dialect), True)
    if any(stranger.values()):
        raise SystemExit(f"bench: {server.name} showed {user} another user's task: {stranger}")


def _ask(
    server: Server, token: str, body: dict[str, Any], errors_allowed: bool = False
) -> dict[str, Any]:
    response = httpx.post(
        f"{server.url}/graphql",
        json=body,
        headers={"authorization": f"Bearer {token}"},
        timeout=10,
    )
    answer = response.json()
    failed = answer.get("errors") and not errors_allowed
    if response.status_code != 200 or failed or not answer.get("data"):
        raise SystemExit(f"bench: {server.name} answered {body['operationName']}: {response.text}")
    data: dict[str, Any] = answer["data"]
    return data


def _check_page(server: Server, user: str, data: dict[str, Any]) -> None:
    page = data["allTasks"] if server.dialect == "postgraphile" else data["tasks"]
    items = page["nodes"] if server.dialect == "postgraphile" else page["items"]
    total = page["totalCount"] if server.dialect == "postgraphile" else page["total"]
    order = [(item["createdAt"], int(item["id"])) for item in items]
    if (
        len(items) != 20
        or any(item["userId"] != user for item in items)
        or order != sorted(order, reverse=True)
        or total < 20
        or not page["pageInfo"]["hasNextPage"]
    ):
        raise SystemExit(f"bench: {server.name}'s page of tasks for {user} is wrong: {page}")
