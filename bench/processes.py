"""The processes of a run: two servers measured through /proc, and wrk driving one at a time."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.network import free_port
from tests.support.paths import REPO
from tests.support.processes import ServerProcess, base_env

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
OPERATIONS_FILE = "operations.txt"  # written by bench/operations.py beside the users files


class Server(ServerProcess):
    """A benchmarked server: its CPU and memory read from /proc, its JWT meter over HTTP."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rss_samples: list[tuple[float, float]] = []  # (time, MB)

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process, all its threads."""
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def rss_mb(self) -> float:
        pages = int(Path(f"/proc/{self.process.pid}/statm").read_text().split()[1])
        return pages * PAGE_KB / 1024

    def jwt_stats(self) -> dict[str, float]:
        stats: dict[str, float] = httpx.get(f"{self.url}/bench-stats", timeout=5).json()
        return stats


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
    """Starts `python -m module` (under `wrapper`, e.g. valgrind) and waits for /healthz."""
    port = free_port()
    argv = [*wrapper, sys.executable, "-m", module]
    argv += ["--port", str(port), "--max-seconds", str(max_seconds)]
    server = Server(
        name,
        argv,
        port=port,
        cwd=log_dir,
        env=base_env(PYTHONPATH=str(REPO), **env),
        log_dir=log_dir,
        start_timeout=startup_seconds,
    )
    return server.start()


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


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(
            "bench: wrk is not installed (Debian/Ubuntu: apt-get install -y wrk; "
            "macOS: brew install wrk)"
        )
    return path


def run_wrk(
    url: str, users_file: Path, scenario: str, seconds: float, connections: int
) -> dict[str, Any]:
    """One fixed-time wrk run on one thread; its result line, parsed.

    load.lua reads the users file and, beside it, the operations file (OPERATIONS_FILE).
    """
    operations_file = users_file.with_name(OPERATIONS_FILE)
    command = [
        "timeout", "--signal=KILL", str(int(seconds) + 30),
        wrk_path(), "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
        "-s", str(Path(__file__).with_name("load.lua")), url,
        "--", str(users_file), str(operations_file), scenario,
    ]  # fmt: skip
    output = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    ).stdout
    for line in output.splitlines():
        if line.startswith("BENCH-RESULT "):
            result: dict[str, Any] = json.loads(line.removeprefix("BENCH-RESULT "))
            return result
    raise RuntimeError(f"wrk printed no result:\n{output}")
