"""`taskql serve` in a real process on loopback: real sockets, real signals, its own CPU."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import TEST_SECRET
from tests.local import free_port

REPO = Path(__file__).resolve().parents[2]
TASKQL = Path(sys.executable).with_name("taskql")
START_TIMEOUT = 30.0


@dataclass
class LiveServer:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self, since: int = 0) -> str:
        with self.log_path.open("rb") as log:
            log.seek(since)
            return log.read().decode("utf-8", errors="replace")

    def log_mark(self) -> int:
        """Where the log ends now, so a test can read only what it caused."""
        return self.log_path.stat().st_size

    def log_records(self, since: int = 0) -> list[dict[str, Any]]:
        """The JSON lines of the server's log (anything else, e.g. a crash dump, is skipped)."""
        records = []
        for line in self.log_text(since).splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    records.append(record)
        return records

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
            raise

    def stop(self, timeout: float = 15.0) -> int:
        self.terminate()
        return self.wait(timeout)


def start(database_url: str, workdir: Path, **settings: str) -> LiveServer:
    """Starts `taskql serve` with only the settings given (no .env, no inherited TASKQL_*)."""
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "PYTHONPATH": str(REPO),
        "DATABASE_URL": database_url,
        "BETTER_AUTH_SECRET": TEST_SECRET,
        "TASKQL_ENV": "development",
        "GRAPHIQL": "false",
        **settings,
    }
    log_path = workdir / f"taskql-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(TASKQL), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(process, port, log_path)
    try:
        _wait_until_healthy(server)
    except BaseException:
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.stop(5)
        raise
    return server


@contextlib.contextmanager
def running(database_url: str, workdir: Path, **settings: str) -> Iterator[LiveServer]:
    server = start(database_url, workdir, **settings)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.stop()


def _wait_until_healthy(server: LiveServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"taskql serve exited early:\n{server.log_text()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{server.url}/healthz", timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"taskql serve did not become healthy:\n{server.log_text()}")
