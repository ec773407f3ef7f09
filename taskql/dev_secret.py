"""Development convenience: a random BETTER_AUTH_SECRET written once to `.env` (mode 0600)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

KEY = "BETTER_AUTH_SECRET"


def ensure_dev_secret(env_file: Path) -> bool:
    """Append a fresh secret unless `.env` already names one; True when one was written."""
    existing = env_file.read_text(encoding="utf-8") if env_file.exists() else ""
    for line in existing.splitlines():
        name, _, value = line.strip().removeprefix("export ").partition("=")
        if name.strip() == KEY and value.strip().strip("'\""):
            return False
    secret = secrets.token_urlsafe(48)
    prefix = "" if not existing or existing.endswith("\n") else "\n"
    fd = os.open(env_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(f"{prefix}{KEY}={secret}\n")
    env_file.chmod(0o600)
    return True
