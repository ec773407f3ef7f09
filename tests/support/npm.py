"""Node programs for the tests: `npm ci` from a committed lock file, once per lock hash, in .cache/.

A missing `node` or `npm` raises NodeError: the tests that need them fail, never skip, on a machine
without Node.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.paths import REPO

_MARKER = ".taskql-installed"
_PACKAGE_FILES = ("package.json", "package-lock.json")
TIMEOUT = 600.0


class NodeError(RuntimeError):
    """node or npm is missing, or a step failed or timed out (the message has its output's tail)."""


def cache_root(variable: str) -> Path:
    """`$<variable>`, or `<repo>/.cache` (gitignored)."""
    override = os.environ.get(variable)
    return Path(override) if override else REPO / ".cache"


def which(tool: str, needed_by: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise NodeError(
            f"`{tool}` was not found on PATH: {needed_by} need Node.js >= 20 and npm "
            "(e.g. `apt-get install nodejs npm`); they fail rather than skip without them."
        )
    return path


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def run(argv: list[str], cwd: Path, what: str, **env: str) -> float:
    """Runs a Node or npm step to completion, quietly; its seconds, or NodeError with its output."""
    # The whole environment: npm may need the machine's registry, proxy or cache settings.
    full_env = {
        **os.environ,
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
        "npm_config_loglevel": "error",
        **env,
    }
    started = time.monotonic()
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise NodeError(f"{what} timed out after {TIMEOUT:.0f}s") from exc
    if proc.returncode != 0:
        raise NodeError(
            f"{what} failed (exit {proc.returncode}):\n{_tail(proc.stdout)}\n{_tail(proc.stderr)}"
        )
    return time.monotonic() - started


def lock_digest(package_dir: Path) -> str:
    return hashlib.sha256((package_dir / "package-lock.json").read_bytes()).hexdigest()[:16]


def installed(package_dir: Path, root: Path, name: str, needed_by: str) -> tuple[Path, float]:
    """`npm ci` of `package_dir`'s package files into `<root>/<name>-<lock hash>`, unless done.

    Returns that directory and the seconds `npm ci` took (0 when the install was reused).
    Concurrent callers (threads or pytest processes) wait on a file lock; the install happens
    in a temporary directory renamed into place only when complete, so a crashed one never
    looks finished.
    """
    which("node", needed_by)
    digest = lock_digest(package_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{name}-{digest}"
    with open(root / f"{name}-{digest}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if (final / _MARKER).exists():
                return final, 0.0
            shutil.rmtree(final, ignore_errors=True)  # not complete: start over
            work = Path(tempfile.mkdtemp(dir=root, prefix=f".tmp-{name}-{digest}-"))
            try:
                for package_file in _PACKAGE_FILES:
                    shutil.copy2(package_dir / package_file, work / package_file)
                npm = which("npm", needed_by)
                seconds = run([npm, "ci", "--no-audit", "--no-fund"], work, f"`npm ci` for {name}")
                (work / _MARKER).write_text(f"{digest}\n")
                os.rename(work, final)
            except BaseException:
                shutil.rmtree(work, ignore_errors=True)
                raise
            return final, seconds
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def place(source: Path, target: Path) -> None:
    """Copy `source` over `target` atomically and only if it changed: a running node may read it."""
    data = source.read_bytes()
    if target.exists() and target.read_bytes() == data:
        return
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
