"""The graphql-ws npm client (pinned in client/package-lock.json), installed once per lock hash."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.interop.better_auth import BetterAuthHarnessError, cache_root

CLIENT_SRC = Path(__file__).with_name("client")
SCRIPT = "subscribe.mjs"
_MARKER = ".taskql-installed"
_NPM_TIMEOUT = 600.0


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BetterAuthHarnessError(
            f"`{name}` is not on PATH: the graphql-ws interop test needs it"
        )
    return path


def ensure_installed() -> Path:
    """`npm ci` into <repo>/.cache/graphql-ws-client-<hash> (file-locked, renamed when complete)."""
    _tool("node")
    digest = hashlib.sha256((CLIENT_SRC / "package-lock.json").read_bytes()).hexdigest()[:16]
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"graphql-ws-client-{digest}"
    with open(root / f"graphql-ws-client-{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (final / _MARKER).exists():
            shutil.rmtree(final, ignore_errors=True)
            work = Path(tempfile.mkdtemp(dir=root, prefix=f".tmp-graphql-ws-{digest}-"))
            try:
                for name in ("package.json", "package-lock.json"):
                    shutil.copy2(CLIENT_SRC / name, work / name)
                _npm_ci(work)
                (work / _MARKER).write_text(digest + "\n")
                os.rename(work, final)
            except BaseException:
                shutil.rmtree(work, ignore_errors=True)
                raise
        shutil.copy2(CLIENT_SRC / SCRIPT, final / SCRIPT)
    return final


def _npm_ci(workdir: Path) -> None:
    env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false"}
    try:
        done = subprocess.run(
            [_tool("npm"), "ci", "--no-audit", "--no-fund"],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_NPM_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BetterAuthHarnessError("`npm ci` for the graphql-ws client timed out") from exc
    if done.returncode != 0:
        raise BetterAuthHarnessError(
            f"`npm ci` for the graphql-ws client failed ({done.returncode}):\n{done.stderr[-2000:]}"
        )
