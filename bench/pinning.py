"""Who runs where: the measured server alone on one core, wrk and PostgreSQL on the others.

PostgreSQL is a shared server, so only the backends serving the benchmark's own database are
moved (its postmaster, other databases' backends and its background workers stay where they
are); a backend started later is moved at the next measurement.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import make_url

from tests.support.databases import plain_url


@dataclass(frozen=True)
class Layout:
    server: tuple[int, ...]  # empty: not pinned
    load: tuple[int, ...]

    @classmethod
    def choose(cls, pin: bool) -> Layout:
        cpus = tuple(sorted(os.sched_getaffinity(0)))
        if not pin or len(cpus) < 2:
            return cls(server=(), load=())
        return cls(server=cpus[:1], load=cpus[1:])

    @property
    def all(self) -> tuple[int, ...]:
        return tuple(sorted(os.sched_getaffinity(0)))

    def taskset(self) -> tuple[str, ...]:
        """A command prefix that runs a server on its core."""
        return ("taskset", "-c", ",".join(map(str, self.server))) if self.server else ()

    def describe(self) -> str:
        if not self.server:
            return "not pinned"
        return f"server on CPU {self.server[0]}, wrk and PostgreSQL on CPU {_cpus(self.load)}"


def _cpus(cpus: tuple[int, ...]) -> str:
    return ",".join(map(str, cpus))


def pin_backends(database_url: str, cpus: tuple[int, ...]) -> int:
    """Moves the backends connected to `database_url`'s database onto `cpus`; how many moved.

    Nothing moves when PostgreSQL is another machine's or another namespace's (pids not ours).
    """
    if not cpus:
        return 0
    pids = asyncio.run(_backends(database_url))
    moved = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(pid, cpus)
            moved += 1
    return moved


async def _backends(database_url: str) -> list[int]:
    connection = await asyncpg.connect(plain_url(database_url))
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1", make_url(database_url).database
        )
    finally:
        await connection.close()
    return [row["pid"] for row in rows]
