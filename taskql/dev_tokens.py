"""Development tokens: HS256, signed with BETTER_AUTH_SECRET, for `taskql token` and `watch`."""

from __future__ import annotations

import re
import time

from jose import jwt

from taskql.settings import Settings

_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class DevTokenError(ValueError):
    """A development token cannot be made as asked; the message says why, for people."""


def lifetime_seconds(ttl: str) -> int:
    """`90s`, `15m`, `2h`, `1d` (or plain seconds) as seconds."""
    match = _DURATION.match(ttl.strip())
    if match is None or int(match.group(1)) <= 0:
        raise DevTokenError("--ttl must look like 90s, 15m, 2h or 1d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def mint(
    settings: Settings,
    sub: str,
    lifetime: int,
    *,
    email: str | None = None,
    name: str | None = None,
) -> str:
    """A token the server accepts: the configured issuer and first audience, when set."""
    if settings.better_auth_secret is None:
        raise DevTokenError(
            "BETTER_AUTH_SECRET is not set (run `taskql serve` once in development)"
        )
    if not sub.strip():
        raise DevTokenError("--sub must not be empty")
    now = int(time.time())
    claims: dict[str, object] = {"sub": sub, "iat": now, "exp": now + lifetime}
    config = settings.auth_config
    if config.issuer:
        claims["iss"] = config.issuer
    if config.audience:
        claims["aud"] = config.audience[0]
    if email:
        claims["email"] = email
    if name:
        claims["name"] = name
    secret = settings.better_auth_secret.get_secret_value()
    return str(jwt.encode(claims, secret, algorithm="HS256"))
