"""The graphql-ws npm client (pinned in client/package-lock.json), installed once per lock hash."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from tests.interop.better_auth import BetterAuthHarnessError, cache_root, npm_ci

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
                npm_ci(_tool("npm"), work, "the graphql-ws client")
                (work / _MARKER).write_text(digest + "\n")
                os.rename(work, final)
            except BaseException:
                shutil.rmtree(work, ignore_errors=True)
                raise
        shutil.copy2(CLIENT_SRC / SCRIPT, final / SCRIPT)
    return final
