"""Loopback helpers shared by tests that run real servers and browsers on this machine."""

from __future__ import annotations

import os
import socket

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Debian's chromium as root, offline: without the background-networking flags it keeps trying
# to reach Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
