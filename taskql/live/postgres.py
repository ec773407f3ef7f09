"""Task events across replicas: NOTIFY inside each write's transaction, one LISTEN per process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from datetime import datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import func, make_url, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import TaskState
from resolvers.events import ChangeKind, EventBus, EventHub, TaskChange
from resolvers.housekeeping import cancelled

logger = logging.getLogger("taskql.events")

CHANNEL = "taskql_task_events"
# PostgreSQL refuses a NOTIFY payload of 8000 bytes or more; keep a margin under it.
MAX_PAYLOAD_BYTES = 7900
INITIAL_BACKOFF_SECONDS = 0.25
MAX_BACKOFF_SECONDS = 30.0
_SQLALCHEMY_ONLY = {"prepared_statement_cache_size", "prepared_statement_name_func"}


def encode(change: TaskChange) -> str | None:
    """The NOTIFY payload: the committed task when it fits, else only what identifies it."""
    head: dict[str, Any] = {
        "type": change.kind.value,
        "id": change.task_id,
        "user": change.user_id,
        "seq": change.seq,
    }
    candidates = [head]
    if change.task is not None:
        candidates.insert(0, {**head, "task": _state(change.task)})
    for body in candidates:
        payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        if len(payload.encode("utf-8")) <= MAX_PAYLOAD_BYTES:
            return payload
    return None


def decode(payload: str) -> TaskChange:
    body = json.loads(payload)
    task_id, user_id, task = int(body["id"]), str(body["user"]), body.get("task")
    # A task without its version (from a replica older than versions) is loaded instead.
    known = isinstance(task, dict) and "version" in task
    state = _from_state(task_id, user_id, task) if known else None
    seq = body.get("seq")  # its number in the event log; None from a replica before the log
    number = int(seq) if isinstance(seq, int) and not isinstance(seq, bool) else None
    return TaskChange(ChangeKind(body["type"]), task_id, user_id, state, number)


def _state(task: TaskState) -> dict[str, Any]:
    """The row without id and owner: those travel once, in the head."""
    return {
        "title": task.title,
        "description": task.description,
        "completed": task.completed,
        "createdAt": task.created_at.isoformat(),
        "updatedAt": task.updated_at.isoformat(),
        "version": task.version,
    }


def _from_state(task_id: int, user_id: str, body: dict[str, Any]) -> TaskState:
    description = body["description"]
    return TaskState(
        id=task_id,
        user_id=user_id,
        title=str(body["title"]),
        description=None if description is None else str(description),
        completed=bool(body["completed"]),
        created_at=datetime.fromisoformat(body["createdAt"]),
        updated_at=datetime.fromisoformat(body["updatedAt"]),
        version=int(body["version"]),
    )


def asyncpg_connect_args(database_url: str) -> dict[str, Any]:
    """asyncpg.connect() arguments for the URL the engine uses (host, ssl, ... alike)."""
    url = make_url(database_url)
    args: dict[str, Any] = {
        key: value for key, value in url.query.items() if key not in _SQLALCHEMY_ONLY
    }
    args.update(url.translate_connect_args(username="user"))
    return args


class PostgresEventHub(EventHub):
    """Writers NOTIFY in their transaction, so PostgreSQL sends it on commit and drops it on
    rollback; every process LISTENs on one dedicated connection and feeds its own bus."""

    def __init__(
        self,
        database_url: str,
        bus: EventBus,
        *,
        connect_timeout: float = 5.0,
        health_interval: float = 15.0,
    ) -> None:
        super().__init__(bus)
        self._connect_args = asyncpg_connect_args(database_url)
        self._connect_timeout = connect_timeout
        self._health_interval = health_interval
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()
        self._tried = asyncio.Event()  # the first connection attempt has ended, either way
        self.connections = 0  # listener connections made so far: reconnects show here

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="taskql-events-listener")
        # Startup waits for the first attempt only: a database that is down must not hold it up.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._tried.wait(), self._connect_timeout + 1)
        if not self.listening.is_set():
            logger.warning("events: not listening yet; subscribers get changes once it connects")

    async def aclose(self) -> None:
        await cancelled(self._task)
        self._task = None

    async def stage(self, session: AsyncSession, change: TaskChange) -> None:
        payload = encode(change)
        if payload is None:  # an owner id of thousands of bytes: not a user we can serve
            logger.error("events: change to task %s too large to publish", change.task_id)
            return
        await session.execute(select(func.pg_notify(CHANNEL, payload)))

    def committed(self, change: TaskChange) -> None:
        """Nothing: the LISTEN connection delivers, to this process's subscribers too."""

    def _on_notify(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            change = decode(payload)
        except (ValueError, KeyError, TypeError):
            logger.warning("events: ignored a malformed notification")
            return
        self.bus.deliver(change)

    async def _listen_forever(self) -> None:
        delay = INITIAL_BACKOFF_SECONDS
        while True:
            try:
                await self._listen_once()
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                logger.warning("events: listener connection failed (%s)", type(exc).__name__)
            except Exception:  # the listener must outlive any one failure
                logger.exception("events: listener failed unexpectedly")
            finally:
                self._tried.set()
            if self.listening.is_set():  # it had worked: start the backoff over
                delay = INITIAL_BACKOFF_SECONDS
                self.listening.clear()
            # Changes committed while no listener is connected are not replayed: clients refetch
            # on reconnect (README, Live updates).
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter only
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)

    async def _listen_once(self) -> None:
        connection = await asyncpg.connect(
            **self._connect_args,
            timeout=self._connect_timeout,
            server_settings={"application_name": "taskql-events"},
        )
        try:
            lost = asyncio.Event()
            connection.add_termination_listener(lambda _connection: lost.set())
            await connection.add_listener(CHANNEL, self._on_notify)
            self.connections += 1
            self.listening.set()
            self._tried.set()
            logger.info("events: listening on %s", CHANNEL)
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), self._health_interval)
                if not lost.is_set():  # a silent network drop shows only when we ask
                    await connection.fetchval("SELECT 1", timeout=self._connect_timeout)
            logger.warning("events: listener connection lost; reconnecting")
        finally:
            if not connection.is_closed():
                connection.terminate()
