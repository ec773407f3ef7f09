"""The benchmarked servers: started on 127.0.0.1, their CPU and memory read from /proc."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from tests.support.network import free_port
from tests.support.paths import REPO
from tests.support.processes import ServerProcess, base_env

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


class Server(ServerProcess):
    """A benchmarked server: CPU and memory of its whole process tree (uvicorn's workers, a
    `timeout` wrapper's child), and its JWT meter over HTTP if it has one.

    `dialect` names the GraphQL schema it speaks (bench/operations.py): "taskql" or
    "postgraphile".
    """

    def __init__(
        self, *args: Any, dialect: str = "taskql", metered: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.dialect = dialect
        self.metered = metered
        self.rss_samples: list[tuple[float, float]] = []  # (time, MB)

    def pids(self) -> list[int]:
        """The server's process and all its descendants."""
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        tree, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, ()))
        return tree

    def cpu_seconds(self) -> float:
        """User + system CPU of the server's processes, all their threads."""
        ticks = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])
        return ticks / CLOCK_TICKS

    def rss_mb(self) -> float:
        pages = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                pages += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        return pages * PAGE_KB / 1024

    def jwt_stats(self) -> dict[str, float]:
        if not self.metered:
            return {"jwt_cpu_seconds": 0.0, "verifications": 0.0}
        stats: dict[str, float] = httpx.get(f"{self.url}/bench-stats", timeout=5).json()
        return stats


def start_program(
    name: str,
    argv: Sequence[str],
    env: dict[str, str],
    log_dir: Path,
    *,
    port: int,
    startup_seconds: float = 30,
    dialect: str = "taskql",
    metered: bool = True,
) -> Server:
    """Starts `argv` (which must serve 127.0.0.1:`port`) and waits for /healthz."""
    server = Server(
        name,
        list(argv),
        port=port,
        cwd=log_dir,
        env=base_env(PYTHONPATH=str(REPO), **env),
        log_dir=log_dir,
        start_timeout=startup_seconds,
        dialect=dialect,
        metered=metered,
    )
    return server.start()


def start_server(
    name: str,
    module: str,
    env: dict[str, str],
    max_seconds: float,
    log_dir: Path,
    *,
    wrapper: tuple[str, ...] = (),
    startup_seconds: float = 30,
) -> Server:
    """Starts `python -m module` (under `wrapper`, e.g. taskset or valgrind)."""
    port = free_port()
    argv = [*wrapper, sys.executable, "-m", module]
    argv += ["--port", str(port), "--max-seconds", str(max_seconds)]
    return start_program(name, argv, env, log_dir, port=port, startup_seconds=startup_seconds)


def bounded(argv: Sequence[str], max_seconds: float) -> list[str]:
    """`argv` for a program that cannot bound its own lifetime: TERM after max_seconds, KILL 15 s
    later, and TERM when the benchmark dies (bench/bounded.py)."""
    return [sys.executable, "-m", "bench.bounded", str(int(max_seconds)), *argv]


class RssSampler:
    """Samples every server's resident memory once a second, on a daemon thread."""

    def __init__(self, servers: list[Server], interval: float = 1.0) -> None:
        self.servers = servers
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss")

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for server in self.servers:
                with contextlib.suppress(OSError):
                    server.rss_samples.append((time.monotonic(), server.rss_mb()))
