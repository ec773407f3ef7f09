"""What the browser tests know of the stack they drive: taskql and the Next.js example."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import BrowserContext, Page

# Short-lived tokens let a test watch them expire. taskql's leeway is cut to match, so an expired
# token really is refused.
JWT_EXPIRATION_SECONDS = 10
JWT_LEEWAY_SECONDS = 1
SESSION_CHECK_SECONDS = 1  # how late taskql may learn of a sign-out


@dataclass(frozen=True)
class Stack:
    app_url: str  # the Next.js app: Better Auth's base URL, so the JWTs' iss and aud
    api_url: str  # taskql's GraphQL endpoint, called cross-origin by the browser
    output: Path  # screenshots and server logs


NewContext = Callable[[], BrowserContext]  # a fresh browser profile (one per user)
Shoot = Callable[[Page, str], None]  # saves test-output/e2e/<name>.png
