"""Install and build ``examples/nextjs`` for the browser tests, outside the tracked tree.

``npm ci`` runs once per lock-file hash into ``.cache/nextjs-deps-<hash>/``. Each distinct set of
inputs (the app's sources, the contract operations, ``schema.graphql``, the trusted-documents
manifest) gets one production build
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.npm import cache_root, installed, run, which
from tests.support.paths import REPO

APP = Path("examples/nextjs")
NEEDED_BY = "the browser tests"
CONTRACT_FILES = (Path("schema.graphql"), Path("trusted-documents.json"))
OPERATIONS_DIR = Path("tests/contract/operations")
# Never copied into a build: installs, build output, generated files and local .env files.
_SKIP = {
    "node_modules",
    ".next",
    "next-env.d.ts",
    "operations.generated.ts",
    "tsconfig.tsbuildinfo",
}
_MARKER = ".taskql-complete"  # a finished build


@dataclass(frozen=True)
class NextBuild:
    app_dir: Path  # holds node_modules and .next: run `next start` here
    npm_ci_seconds: float  # 0 when the install was reused
    build_seconds: float  # 0 when the build was reused


def _skipped(name: str) -> bool:
    return name in _SKIP or name.startswith(".env")


def _inputs() -> list[Path]:
    """Every file the build depends on, relative to the repository root."""
    files: list[Path] = []
    for top, dirs, names in os.walk(REPO / APP):
        dirs[:] = [name for name in dirs if not _skipped(name)]
        files += (Path(top) / name for name in names if not _skipped(name))
    files += (REPO / OPERATIONS_DIR).glob("*.graphql")
    files += (REPO / path for path in CONTRACT_FILES)
    return sorted(path.relative_to(REPO) for path in files)


def _digest(paths: list[Path]) -> str:
    sha = hashlib.sha256()
    for path in paths:
        sha.update(str(path).encode() + b"\0" + (REPO / path).read_bytes() + b"\0")
    return sha.hexdigest()[:16]


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
        shutil.copy2(REPO / path, build / path)
    app_dir = build / APP
    # Hard links: a second copy of ~400 MB of packages in an instant, and no symlink for
    # Turbopack to resolve outside the project.
    subprocess.run(
        ["cp", "-al", str(deps / "node_modules"), str(app_dir / "node_modules")], check=True
    )
    node = which("node", NEEDED_BY)
    run([node, "scripts/generate-operations.mjs"], app_dir, "generate-operations")
    next_build = [node, "node_modules/next/dist/bin/next", "build"]
    seconds = run(next_build, app_dir, "next build", NEXT_TELEMETRY_DISABLED="1")
    (build / _MARKER).touch()
    return seconds


@contextmanager
def nextjs_build() -> Iterator[NextBuild]:
    """A production build of the current sources, held (shared lock) while the caller runs it."""
    root = cache_root("TASKQL_E2E_CACHE")
    deps, npm_seconds = installed(REPO / APP, root, "nextjs-deps", NEEDED_BY)
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
