"""Servers in child processes on 127.0.0.1: started, polled until ready, read, and stopped."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import httpx

from tests.support.timing import TimedOut, wait_until

# Only these reach a child unless the caller passes more: a developer's BETTER_AUTH_* or
# DATABASE_URL must not leak in.
_PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


class ServerError(RuntimeError):
    """A server did not start, or exited early (the message ends with its log)."""


def base_env(**extra: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in _PASSED_ENV if name in os.environ}
    env.update(extra)
    return env


def venv_command(name: str) -> str:
    """A console script of the running interpreter's environment (e.g. ``taskql``)."""
    path = Path(sys.executable).with_name(name)
    if not path.exists():
        raise ServerError(f"{path} not found: run from the project's environment")
    return str(path)


def run_python(
    *args: str, cwd: Path, env: Mapping[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """This interpreter with `args`, to completion, output captured; a failure is returned."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_taskql(
    *args: str, cwd: Path, env: Mapping[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m taskql <args>`, as `run_python` runs it."""
    return run_python("-m", "taskql", *args, cwd=cwd, env=env, timeout=timeout)


class ServerProcess:
    """A child process serving HTTP on 127.0.0.1:`port`, its output in `<log_dir>/<name>.log`.

    It runs in a process group of its own, so stopping it reaches its children too; `start()`
    returns once GET `ready_path` answers 200, and fails with the log if the process exits first.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        port: int,
        cwd: Path,
        env: Mapping[str, str],
        log_dir: Path,
        ready_path: str = "/healthz",
        start_timeout: float = 60.0,
        pass_fds: Sequence[int] = (),
    ) -> None:
        self.name = name
        self.pass_fds = tuple(pass_fds)  # e.g. a listening socket bound here: no port race
        self.argv = list(argv)
        self.port = port
        self.cwd = cwd
        self.env = dict(env)
        self.log_path = log_dir / f"{name}.log"
        self.ready_path = ready_path
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def process(self) -> subprocess.Popen[bytes]:
        assert self._process is not None, f"{self.name} was never started"
        return self._process

    def start(self) -> Self:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:  # the child keeps its own copy of the descriptor
            self._process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=self.pass_fds,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop(timeout=5)
            raise
        return self

    def _wait_ready(self) -> None:
        ready_url = self.url + self.ready_path
        with httpx.Client(timeout=2.0, trust_env=False) as client:

            def ready() -> bool:
                if self.process.poll() is not None:
                    code = self.process.returncode
                    raise ServerError(f"{self.name} exited with {code}\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    return client.get(ready_url).status_code == 200
                return False

            try:
                wait_until(ready, within=self.start_timeout, message="not ready", interval=0.1)
            except TimedOut:
                raise ServerError(
                    f"{self.name}: {ready_url} not ready in {self.start_timeout:.0f}s\n"
                    f"{self.log_tail()}"
                ) from None

    def log_text(self, since: int = 0) -> str:
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as log:
            log.seek(since)
            return log.read().decode("utf-8", errors="replace")

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def log_mark(self) -> int:
        """Where the log ends now, so a test can read only what it caused."""
        return self.log_path.stat().st_size

    def log_records(self, since: int = 0) -> list[dict[str, Any]]:
        """The JSON lines of the log (anything else, e.g. a crash dump, is skipped)."""
        records = []
        for line in self.log_text(since).splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    records.append(record)
        return records

    def terminate(self) -> None:
        """SIGTERM to the process group; `wait` for the exit."""
        self._signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        """The exit code; a process still running after `timeout` is killed and this raises."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.process.wait(5)
            raise

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; the exit code (None if never started)."""
        if self._process is None:
            return None
        if self._process.poll() is None:
            self.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                return self.wait(timeout)
        return self._process.returncode

    def _signal(self, signum: int) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
