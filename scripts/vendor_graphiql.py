"""Refresh taskql's vendored GraphiQL from pinned npm packages, recording versions and integrity.

Usage: `python scripts/vendor_graphiql.py` (downloads with `npm pack`, needs only the npm registry)
       `python scripts/vendor_graphiql.py --check` (offline: the committed files match the manifest)

GraphiQL 4.1 is the last line that ships a prebuilt browser (UMD) bundle; GraphiQL 5 is ESM-only and
built on Monaco, which needs a bundler, web workers and injected <style> elements (no strict CSP).
React 18 is the last React with UMD builds, and GraphiQL 4 accepts React 18 or 19.
graphql-ws is the version the Next.js example uses; its UMD build defines `window.graphqlWs`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

TARGET = Path(__file__).resolve().parent.parent / "taskql" / "static" / "graphiql"
MANIFEST = TARGET / "VERSIONS.json"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    files: dict[str, str]  # path inside the npm tarball -> file name under TARGET
    license: str = "LICENSE"  # path inside the tarball, vendored as <name>.LICENSE


PACKAGES = (
    Package("react", "18.3.1", {"umd/react.production.min.js": "react.production.min.js"}),
    Package(
        "react-dom",
        "18.3.1",
        {"umd/react-dom.production.min.js": "react-dom.production.min.js"},
    ),
    Package(
        "graphiql",
        "4.1.2",
        {"graphiql.min.js": "graphiql.min.js", "graphiql.min.css": "graphiql.min.css"},
    ),
    Package(
        "graphql-ws",
        "6.4.2",
        {"umd/graphql-ws.min.js": "graphql-ws.min.js"},
        license="LICENSE.md",
    ),
)


def file_digests(data: bytes) -> dict[str, str]:
    return {
        "sha256": hashlib.sha256(data).hexdigest(),
        "integrity": "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode(),
    }


def npm_pack(package: Package, workdir: Path) -> tuple[Path, str]:
    """Download the package tarball; npm verifies it against the registry's recorded integrity."""
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm is not on PATH")
    spec = f"{package.name}@{package.version}"
    result = subprocess.run(  # noqa: S603 - fixed arguments, no shell
        [npm, "pack", spec, "--json", "--pack-destination", str(workdir)],
        check=True,
        capture_output=True,
        text=True,
    )
    (info,) = json.loads(result.stdout)
    if info["version"] != package.version:
        sys.exit(f"npm returned {info['name']}@{info['version']}, wanted {spec}")
    return workdir / info["filename"], str(info["integrity"])


def vendor(package: Package, workdir: Path) -> dict[str, object]:
    tarball, tarball_integrity = npm_pack(package, workdir)
    files: dict[str, object] = {}
    with tarfile.open(tarball) as archive:
        for source, name in {**package.files, package.license: f"{package.name}.LICENSE"}.items():
            member = archive.extractfile(f"package/{source}")
            if member is None:
                sys.exit(f"{package.name}@{package.version} has no {source}")
            data = member.read()
            (TARGET / name).write_bytes(data)
            files[name] = {"source": source, "bytes": len(data), **file_digests(data)}
    return {
        "name": package.name,
        "version": package.version,
        "tarball_integrity": tarball_integrity,
        "files": files,
    }


def refresh() -> None:
    TARGET.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        packages = [vendor(package, Path(tmp)) for package in PACKAGES]
    manifest = {
        "generated_by": "scripts/vendor_graphiql.py",
        "packages": packages,
    }
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    for package in packages:
        print(f"vendored {package['name']}@{package['version']}")


def check() -> int:
    manifest = json.loads(MANIFEST.read_text())
    pinned = [f"{package.name}@{package.version}" for package in PACKAGES]
    recorded = [f"{package['name']}@{package['version']}" for package in manifest["packages"]]
    problems = [] if pinned == recorded else [f"VERSIONS.json has {recorded}, PACKAGES {pinned}"]
    for package in manifest["packages"]:
        for name, recorded in package["files"].items():
            path = TARGET / name
            if not path.is_file():
                problems.append(f"{name}: missing")
            elif file_digests(path.read_bytes())["sha256"] != recorded["sha256"]:
                problems.append(f"{name}: differs from {package['name']}@{package['version']}")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify files against VERSIONS.json")
    if parser.parse_args().check:
        return check()
    refresh()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
