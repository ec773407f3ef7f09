"""Processes and databases for the browser tests: taskql and the Next.js app on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Coroutine, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
# Only these reach the children: a developer's BETTER_AUTH_* or DATABASE_URL must not leak in.
_PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


class ServerError(RuntimeError):
    """A server did not start, or exited early (the message ends with its log)."""


def base_env(**extra: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in _PASSED_ENV if name in os.environ}
    env.update(extra)
    return env


def _run(coro: Coroutine[Any, Any, None]) -> None:
    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coro).result()


def _admin_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_PG).replace("+asyncpg", "")
    return url.replace("postgres://", "postgresql://", 1)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


@contextlib.contextmanager
def fresh_databases(*suffixes: str) -> Iterator[dict[str, str]]:
    """Create one empty PostgreSQL database per suffix; drop them all afterwards."""
    admin = _admin_url()
    stem = f"taskql_e2e_{uuid.uuid4().hex[:8]}"
    names = {suffix: f"{stem}_{suffix}" for suffix in suffixes}

    async def execute(*statements: str) -> None:
        connection = await asyncpg.connect(admin)
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    _run(execute(*(f'CREATE DATABASE "{name}"' for name in names.values())))
    try:
        yield {suffix: _with_database(admin, name) for suffix, name in names.items()}
    finally:
        _run(
            execute(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in names.values()))
        )


def venv_command(name: str) -> str:
    """A console script of the running interpreter's environment (e.g. ``taskql``)."""
    path = Path(sys.executable).with_name(name)
    if not path.exists():
        raise ServerError(f"{path} not found: run the tests from the project's environment")
    return str(path)


class Server:
    """A child process with its output in a log file, stopped with its whole process group."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        log_dir: Path,
        ready_url: str,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.cwd = cwd
        self.env = dict(env)
        self.log_path = log_dir / f"{name}.log"
        self.ready_url = ready_url
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, timeout: float = 60.0) -> Server:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() reaches its children
        )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    raise ServerError(
                        f"{self.name} exited with {self._proc.returncode}\n{self.log()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(self.ready_url).status_code == 200:
                        return
                time.sleep(0.2)
        raise ServerError(
            f"{self.name}: {self.ready_url} not ready in {timeout:.0f}s\n{self.log()}"
        )

    def log(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
