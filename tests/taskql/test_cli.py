"""The `taskql` command as a person runs it: serve on a bare directory, export-schema."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
from jose import jwt

from schema.sdl import schema_sdl
from tests.support.network import free_port
from tests.support.paths import REPO
from tests.support.processes import ServerProcess, run_python, run_taskql


def clean_env(**extra: str) -> dict[str, str]:
    """The machine's environment without any taskql setting, plus `extra`."""
    names = ("DATABASE_URL", "BETTER_AUTH", "JWT_", "TASKQL_", "GRAPHIQL", "CORS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(names)}
    return {**env, **extra}


def taskql(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_taskql(*args, cwd=cwd, env=env, timeout=60)


def test_serve_on_a_bare_directory_writes_a_secret_migrates_sqlite_and_answers(
    tmp_path: Path,
) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "taskql", "serve", "--port", str(port)]
    server = ServerProcess(
        "serve", argv, port=port, cwd=tmp_path, env=clean_env(), log_dir=tmp_path / "logs"
    )
    with server:
        answer = httpx.post(f"{server.url}/graphql", json={"query": "{__typename}"}, timeout=5)
        assert answer.json() == {"data": {"__typename": "Query"}}

        env_file = tmp_path / ".env"
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        secret = env_file.read_text().strip().removeprefix("BETTER_AUTH_SECRET=")
        assert len(secret) >= 32
        assert (tmp_path / "taskql.db").exists()

        minted = taskql(
            "token", "--sub", "cli-user", "--name", "Cli", cwd=tmp_path, env=clean_env()
        )
        assert minted.returncode == 0, minted.stderr
        token = minted.stdout.strip()
        assert jwt.decode(token, secret, algorithms=["HS256"])["sub"] == "cli-user"
        me = httpx.post(
            f"{server.url}/graphql",
            json={"query": "{ me { id name } }"},
            headers={"authorization": f"Bearer {token}"},
            timeout=5,
        )
        assert me.json() == {"data": {"me": {"id": "cli-user", "name": "Cli"}}}
    output = server.log_text()  # what serve wrote to stdout and stderr
    assert "wrote a random BETTER_AUTH_SECRET to .env" in output
    assert secret not in output


def test_existing_secret_in_env_file_is_never_overwritten(tmp_path: Path) -> None:
    from taskql.dev_secret import ensure_dev_secret

    env_file = tmp_path / ".env"
    env_file.write_text("OTHER=1\nBETTER_AUTH_SECRET=keep-this-one-it-is-long-enough-000000\n")
    assert ensure_dev_secret(env_file) is False
    assert env_file.read_text().count("BETTER_AUTH_SECRET") == 1
    fresh = tmp_path / "fresh.env"
    fresh.write_text("OTHER=1")
    assert ensure_dev_secret(fresh) is True
    assert fresh.read_text().startswith("OTHER=1\nBETTER_AUTH_SECRET=")


def test_invalid_settings_stop_startup_with_a_clear_message(tmp_path: Path) -> None:
    result = taskql(
        "serve",
        cwd=tmp_path,
        env=clean_env(BETTER_AUTH_SECRET="short-secret-value", DATABASE_URL="mysql://x/y"),
    )
    assert result.returncode != 0
    assert "BETTER_AUTH_SECRET: must be at least 32 characters" in result.stderr
    assert "DATABASE_URL" in result.stderr
    assert "short-secret-value" not in result.stderr


def test_export_schema_check_passes_when_current_and_fails_when_stale(tmp_path: Path) -> None:
    current = tmp_path / "current.graphql"
    current.write_text(schema_sdl())
    ok = taskql("export-schema", "--check", "--path", str(current), cwd=REPO, env=clean_env())
    assert ok.returncode == 0, ok.stderr
    stale = tmp_path / "stale.graphql"
    stale.write_text(schema_sdl().replace("completed: Boolean!", "done: Boolean!"))
    bad = taskql("export-schema", "--check", "--path", str(stale), cwd=REPO, env=clean_env())
    assert bad.returncode == 1
    assert "out of date" in bad.stderr
    assert "+  completed: Boolean!" in bad.stderr


def test_the_served_app_leaves_its_startup_heap_to_no_collection(tmp_path: Path) -> None:
    """`serve` freezes what lives as long as the process and collects the young generation
    far less often than CPython's default of every 700 net allocations."""
    probe = (
        "import gc; from taskql.cli import serving_app, YOUNG_GENERATION_THRESHOLD as T; "
        "serving_app(); print(gc.get_freeze_count(), gc.get_threshold()[0] == T, T)"
    )
    env = clean_env(
        BETTER_AUTH_SECRET="s" * 40, DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/t.db"
    )
    result = run_python("-c", probe, cwd=REPO, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    frozen, applied, threshold = result.stdout.split()
    assert int(frozen) > 50_000  # the schema, the routes and every imported module
    assert applied == "True"
    assert int(threshold) >= 10 * 700
