"""The processes of a run: two servers measured through /proc, and wrk driving one at a time."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    rss_samples: list[tuple[float, float]] = field(default_factory=list)  # (time, MB)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

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

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


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
    with (log_dir / f"{name}.log").open("wb") as log:
        process = subprocess.Popen(
            [
                *wrapper,
                sys.executable,
                "-m",
                module,
                "--port",
                str(port),
                "--max-seconds",
                str(max_seconds),
            ],  # fmt: skip
            cwd=log_dir,
            env={**_base_env(), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(name, process, port)
    deadline = time.monotonic() + startup_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited at startup; see {log_dir / (name + '.log')}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{name} did not start; see {log_dir / (name + '.log')}")


def _base_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env["PYTHONPATH"] = str(REPO)
    return env


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
    """One fixed-time wrk run on one thread; its result line, parsed."""
    command = [
        "timeout", "--signal=KILL", str(int(seconds) + 30),
        wrk_path(), "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
        "-s", str(Path(__file__).with_name("load.lua")), url, "--", str(users_file), scenario,
    ]  # fmt: skip
    output = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    ).stdout
    for line in output.splitlines():
        if line.startswith("BENCH-RESULT "):
            result: dict[str, Any] = json.loads(line.removeprefix("BENCH-RESULT "))
            return result
    raise RuntimeError(f"wrk printed no result:\n{output}")
