"""Install and build ``examples/nextjs`` for the browser tests, outside the tracked tree.

``npm ci`` runs once per lock-file hash into ``.cache/nextjs-deps-<hash>/``. Each distinct set of
inputs (the app's sources, the contract operations, ``schema.graphql``) gets one production build
in ``.cache/nextjs-build-<hash>/``, a copy of the repository layout that the operation generator
expects, with ``node_modules`` hard-linked from the deps directory. Builds are reused until an
input changes. File locks make concurrent pytest sessions wait for one another, and a build in
use (shared lock) is never pruned.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = Path("examples/nextjs")
CONTRACT = (Path("schema.graphql"), Path("tests/contract/operations"))
# Never copied into a build: installs, build output, generated files and local .env files.
_SKIP = {
    "node_modules",
    ".next",
    "next-env.d.ts",
    "operations.generated.ts",
    "tsconfig.tsbuildinfo",
}
_MARKER = ".taskql-complete"
_TIMEOUT = 600.0


class BuildError(RuntimeError):
    """``npm ci`` or ``next build`` failed (the message has the output's tail)."""


@dataclass(frozen=True)
class NextBuild:
    app_dir: Path  # holds node_modules and .next: run `next start` here
    npm_ci_seconds: float  # 0 when the install was reused
    build_seconds: float  # 0 when the build was reused


def _cache_root() -> Path:
    override = os.environ.get("TASKQL_E2E_CACHE")
    return Path(override) if override else REPO_ROOT / ".cache"


def _skipped(name: str) -> bool:
    return name in _SKIP or name.startswith(".env")


def _inputs() -> list[Path]:
    """Every file the build depends on, relative to the repository root."""
    files: list[Path] = []
    for top, dirs, names in os.walk(REPO_ROOT / APP):
        dirs[:] = [name for name in dirs if not _skipped(name)]
        files += (Path(top) / name for name in names if not _skipped(name))
    files += (REPO_ROOT / CONTRACT[1]).glob("*.graphql")
    files.append(REPO_ROOT / CONTRACT[0])
    return sorted(path.relative_to(REPO_ROOT) for path in files)


def _digest(paths: list[Path]) -> str:
    sha = hashlib.sha256()
    for path in paths:
        sha.update(str(path).encode() + b"\0" + (REPO_ROOT / path).read_bytes() + b"\0")
    return sha.hexdigest()[:16]


@contextmanager
def _locked(path: Path, mode: int) -> Iterator[IO[str]]:
    with open(path, "a") as handle:
        fcntl.flock(handle, mode)
        try:
            yield handle
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _run(argv: list[str], cwd: Path, what: str) -> float:
    # The whole environment: npm may need the machine's registry, proxy or cache settings.
    env = dict(os.environ)
    env.update(
        NEXT_TELEMETRY_DISABLED="1",
        npm_config_audit="false",
        npm_config_fund="false",
        npm_config_update_notifier="false",
    )
    started = time.monotonic()
    try:
        proc = subprocess.run(
            argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BuildError(f"{what} timed out after {_TIMEOUT:.0f}s") from exc
    if proc.returncode != 0:
        raise BuildError(
            f"{what} failed (exit {proc.returncode}):\n{_tail(proc.stdout)}\n{_tail(proc.stderr)}"
        )
    return time.monotonic() - started


def _which(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise BuildError(f"`{tool}` not found on PATH: the browser tests need Node.js >= 20.9")
    return path


def _ensure_deps(root: Path) -> tuple[Path, float]:
    lock = REPO_ROOT / APP / "package-lock.json"
    deps = root / f"nextjs-deps-{hashlib.sha256(lock.read_bytes()).hexdigest()[:16]}"
    with _locked(deps.with_suffix(".lock"), fcntl.LOCK_EX):
        if (deps / _MARKER).exists():
            return deps, 0.0
        shutil.rmtree(deps, ignore_errors=True)
        deps.mkdir(parents=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(REPO_ROOT / APP / name, deps / name)
        seconds = _run([_which("npm"), "ci", "--no-audit", "--no-fund"], deps, "npm ci")
        (deps / _MARKER).touch()
        return deps, seconds


def _prune(root: Path, keep: Path) -> None:
    """Delete other builds that no session is using."""
    for lock in root.glob("nextjs-build-*.lock"):
        build = lock.with_suffix("")
        if build == keep:
            continue
        with open(lock, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            shutil.rmtree(build, ignore_errors=True)
            lock.unlink(missing_ok=True)


def _build(build: Path, deps: Path, inputs: list[Path]) -> float:
    shutil.rmtree(build, ignore_errors=True)
    for path in inputs:
        (build / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / path, build / path)
    app_dir = build / APP
    # Hard links: a second copy of ~400 MB of packages in an instant, and no symlink for
    # Turbopack to resolve outside the project.
    subprocess.run(
        ["cp", "-al", str(deps / "node_modules"), str(app_dir / "node_modules")], check=True
    )
    node = _which("node")
    _run([node, "scripts/generate-operations.mjs"], app_dir, "generate-operations")
    seconds = _run([node, "node_modules/next/dist/bin/next", "build"], app_dir, "next build")
    (build / _MARKER).touch()
    return seconds


@contextmanager
def nextjs_build() -> Iterator[NextBuild]:
    """A production build of the current sources, held (shared lock) while the caller runs it."""
    root = _cache_root()
    root.mkdir(parents=True, exist_ok=True)
    deps, npm_seconds = _ensure_deps(root)
    inputs = _inputs()
    build = root / f"nextjs-build-{_digest(inputs)}"
    with open(build.with_suffix(".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        build_seconds = 0.0 if (build / _MARKER).exists() else _build(build, deps, inputs)
        fcntl.flock(handle, fcntl.LOCK_SH)  # others may run this build too, nobody may delete it
        _prune(root, keep=build)
        try:
            yield NextBuild(build / APP, npm_seconds, build_seconds)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
