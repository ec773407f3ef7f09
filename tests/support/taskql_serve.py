"""`taskql serve` in a real process on loopback: real sockets, real signals, its own CPU."""

from __future__ import annotations

from pathlib import Path

from tests.support.network import free_port
from tests.support.paths import REPO
from tests.support.processes import ServerProcess, base_env, venv_command
from tests.support.tokens import TEST_SECRET


def taskql_serve(database_url: str, workdir: Path, **settings: str) -> ServerProcess:
    """`taskql serve` with only the settings given (no .env, no inherited TASKQL_*), unstarted.

    `with taskql_serve(...) as server:` starts it and stops it; `.start()` leaves stopping to you.
    """
    port = free_port()
    env = base_env(
        HOME=str(workdir),
        PYTHONPATH=str(REPO),
        DATABASE_URL=database_url,
        BETTER_AUTH_SECRET=TEST_SECRET,
        TASKQL_ENV="development",
        GRAPHIQL="false",
        **settings,
    )
    argv = [venv_command("taskql"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    return ServerProcess(
        f"taskql-{port}", argv, port=port, cwd=workdir, env=env, log_dir=workdir, start_timeout=30
    )
