"""Many clients creating and toggling at once against `taskql serve` on PostgreSQL.

Every request is answered (none is reset on a connection the server drops: test_keep_alive.py),
every acknowledged mutation is in the database, totals match, and nothing answers 5xx.
TASKQL_LOAD_SECONDS and TASKQL_LOAD_CLIENTS scale it (CI keeps the defaults).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from dataclasses import dataclass, field

import httpx
from sqlalchemy import text

from db.session import create_engine
from tests.support.operations import CREATE_TASK, TOGGLE_TASK
from tests.support.processes import ServerProcess
from tests.support.tokens import hs256_token

SECONDS = float(os.environ.get("TASKQL_LOAD_SECONDS", "8"))
CLIENTS = int(os.environ.get("TASKQL_LOAD_CLIENTS", "32"))
TOTAL = "query Total($userId: ID!) { tasks(userId: $userId, first: 1) { total } }"


@dataclass
class Client:
    """One user's front end: it alone writes its tasks, so its last acknowledgement is the truth."""

    user: str
    token: str
    expected: dict[int, bool] = field(default_factory=dict)  # task id -> completed
    statuses: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    async def run(self, http: httpx.AsyncClient, deadline: float, rng: random.Random) -> None:
        while time.monotonic() < deadline:
            if not self.expected or rng.random() < 0.4:
                data = await self._send(http, CREATE_TASK, {"input": {"title": "load"}})
                if data:
                    task = data["createTask"]
                    self.expected[int(task["id"])] = task["completed"]
            else:
                task_id = rng.choice(list(self.expected))
                data = await self._send(http, TOGGLE_TASK, {"id": str(task_id)})
                if data:
                    task = data["toggleTaskComplete"]
                    self.expected[int(task["id"])] = task["completed"]

    async def _send(
        self, http: httpx.AsyncClient, query: str, variables: dict[str, object]
    ) -> dict[str, dict[str, object]] | None:
        started = time.monotonic()
        response = await http.post(
            "/graphql",
            json={"query": query, "variables": {"userId": self.user, **variables}},
            headers={"authorization": f"Bearer {self.token}"},
        )
        self.latencies.append(time.monotonic() - started)
        self.statuses.append(response.status_code)
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            return None
        data: dict[str, dict[str, object]] = body["data"]
        return data


async def test_concurrent_creates_and_toggles_are_all_durable(
    live: ServerProcess, postgres_url: str
) -> None:
    run = uuid.uuid4().hex[:8]
    mark = live.log_mark()
    clients = [Client(f"load-{run}-{n}", hs256_token(f"load-{run}-{n}")) for n in range(CLIENTS)]
    # Like every well-behaved client, it drops idle connections before the server would.
    limits = httpx.Limits(
        max_connections=CLIENTS, max_keepalive_connections=CLIENTS, keepalive_expiry=2.0
    )
    async with httpx.AsyncClient(base_url=live.url, limits=limits, timeout=30) as http:
        deadline = time.monotonic() + SECONDS
        await asyncio.gather(
            *(client.run(http, deadline, random.Random(n)) for n, client in enumerate(clients))
        )
        totals = await asyncio.gather(
            *(
                http.post(
                    "/graphql",
                    json={"query": TOTAL, "variables": {"userId": client.user}},
                    headers={"authorization": f"Bearer {client.token}"},
                )
                for client in clients
            )
        )

    statuses = [status for client in clients for status in client.statuses]
    assert all(status == 200 for status in statuses), sorted(set(statuses))
    assert len(statuses) > CLIENTS * 10, "the load barely ran"
    stored = await _stored(postgres_url, f"load-{run}-%")
    for client, total in zip(clients, totals, strict=True):
        mine = stored.get(client.user, {})
        assert total.json()["data"]["tasks"]["total"] == len(mine)
        assert mine == client.expected, client.user

    latencies = sorted(latency for client in clients for latency in client.latencies)
    p99 = latencies[int(len(latencies) * 0.99)]
    print(f"\n{len(statuses)} mutations in {SECONDS:.0f}s by {CLIENTS} clients, p99 {p99:.3f}s")
    records = live.log_records(mark)
    assert [record for record in records if record["level"] in ("error", "critical")] == []
    logged = [record for record in records if str(record.get("user_id")).startswith(f"load-{run}")]
    assert len(logged) == len(statuses) + len(totals)  # one JSON line per request
    assert clients[0].token not in live.log_text(mark)


async def _stored(postgres_url: str, pattern: str) -> dict[str, dict[int, bool]]:
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT user_id, id, completed FROM tasks WHERE user_id LIKE :pattern"),
                {"pattern": pattern},
            )
            stored: dict[str, dict[int, bool]] = {}
            for row in rows:
                stored.setdefault(row.user_id, {})[int(row.id)] = bool(row.completed)
            return stored
    finally:
        await engine.dispose()
