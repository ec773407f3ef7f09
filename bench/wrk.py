"""wrk, the load generator: found (or installed with apt-get), and run for a fixed time."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.operations import operations_file

HERE = Path(__file__).parent


def wrk_path() -> str:
    """wrk on PATH; if missing and we are root on Debian/Ubuntu, `apt-get install -y wrk` first."""
    path = shutil.which("wrk")
    if path is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print("bench: wrk is missing: apt-get install -y wrk", flush=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "wrk"],
            check=False,
            timeout=600,
            capture_output=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        path = shutil.which("wrk")
    if path is None:
        raise SystemExit(
            "bench: wrk is not installed (Debian/Ubuntu: apt-get install -y wrk; "
            "macOS: brew install wrk)"
        )
    return path


def run_wrk(
    url: str,
    users_file: Path,
    scenario: str,
    seconds: float,
    connections: int,
    *,
    dialect: str = "taskql",
    rate: float = 0,
    cpus: Sequence[int] = (),
) -> dict[str, Any]:
    """One fixed-time wrk run on one thread (on `cpus` if given); its result line, parsed.

    load.lua reads the users file and, beside it, the dialect's operations file; with `rate`,
    paced.lua sends `rate` requests per second in all instead of as many as the server answers.
    """
    script = "paced.lua" if rate else "load.lua"
    pin = ["taskset", "-c", ",".join(map(str, cpus))] if cpus else []
    command = [
        "timeout", "--signal=KILL", str(int(seconds) + 30), *pin,
        wrk_path(), "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
        "-s", str(HERE / script), url,
        "--", str(users_file), str(operations_file(users_file.parent, dialect)), scenario,
        dialect, str(rate),
    ]  # fmt: skip
    output = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    ).stdout
    for line in output.splitlines():
        if line.startswith("BENCH-RESULT "):
            result: dict[str, Any] = json.loads(line.removeprefix("BENCH-RESULT "))
            return result
    raise RuntimeError(f"wrk printed no result:\n{output}")
