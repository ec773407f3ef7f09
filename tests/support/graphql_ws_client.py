"""The graphql-ws npm client, pinned in tests/subscriptions/client, installed once per lock hash."""

from __future__ import annotations

from pathlib import Path

from tests.support.npm import cache_root, installed, place
from tests.support.paths import REPO

CLIENT_SRC = REPO / "tests" / "subscriptions" / "client"
SCRIPT = "subscribe.mjs"


def ensure_installed() -> Path:
    """The install directory, holding node_modules and the client script."""
    root = cache_root("TASKQL_INTEROP_CACHE")
    install_dir, _ = installed(CLIENT_SRC, root, "graphql-ws-client", "the graphql-ws interop test")
    place(CLIENT_SRC / SCRIPT, install_dir / SCRIPT)
    return install_dir
