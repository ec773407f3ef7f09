"""Fair use (SPEC §8): operations per user, mutations per user, requests per client IP without a
token, counted in one storage (memory, or Redis shared by every replica) before any resolver runs.

The windows and storages are the `limits` package's. A storage that cannot be reached lets the
request through (fail open) and says so in the log once per interval and in the metrics.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any

from graphql import GraphQLError
from limits import RateLimitItem, parse_many, storage
from limits.aio.strategies import MovingWindowRateLimiter
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from contract.errors import Code, graphql_error

logger = logging.getLogger("taskql.rate_limits")
_STORAGE_WARNING_SECONDS = 60.0
REDIS_TIMEOUT = 0.25  # seconds; a Redis on the same network answers in well under a millisecond


def parse_policy(text: str) -> tuple[RateLimitItem, ...]:
    """`600/minute;10000/hour` (the `limits` syntax); empty means no limit. ValueError if bad."""
    return tuple(parse_many(text)) if text.strip() else ()


def storage_uri(setting: str) -> tuple[str, dict[str, Any]]:
    """RATE_LIMIT_STORAGE as the `limits` async storage it names."""
    if setting.startswith("memory://"):
        return "async+" + setting, {}
    if setting.startswith(("redis://", "rediss://")):
        # Bounded: a Redis that hangs (not one that refuses) must not hold requests up.
        timeouts = {"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT}
        return "async+" + setting, {"implementation": "redispy", **timeouts}
    raise ValueError("must be memory:// or redis://host:port/db")


@dataclass(frozen=True, slots=True)
class Refused:
    """Which limit a request is over, and what the response's headers say about it."""

    name: str
    item: RateLimitItem
    retry_after: int

    def headers(self) -> dict[str, str]:
        window = self.item.get_expiry()
        return {
            "Retry-After": str(self.retry_after),
            # draft-ietf-httpapi-ratelimit-headers: the policy and what is left of it.
            "RateLimit-Policy": f'"{self.name}";q={self.item.amount};w={window}',
            "RateLimit": f'"{self.name}";r=0;t={self.retry_after}',
        }

    def error(self) -> GraphQLError:
        return graphql_error(
            Code.RATE_LIMITED,
            f"Rate limit {self.name} ({self.item}) exceeded; retry in {self.retry_after} s.",
            limit=self.name,
            retryAfter=self.retry_after,
        )


class RateLimiter:
    """The named policies and the one storage they count in."""

    def __init__(
        self,
        policies: dict[str, Sequence[RateLimitItem]],
        storage_setting: str = "memory://",
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        uri, options = storage_uri(storage_setting)
        self.policies = {name: tuple(items) for name, items in policies.items() if items}
        self._strategy = MovingWindowRateLimiter(storage.storage_from_string(uri, **options))
        # The metrics' hooks, set when metrics are on (taskql.http.observability).
        self.on_limited: Callable[[str], None] = lambda _: None
        self.on_storage_error: Callable[[], None] = lambda: None
        self._clock = clock
        self._warned_at = -math.inf

    async def hit(self, name: str, key: str) -> Refused | None:
        """Count one request of `key` against policy `name`; the refusal if it is over."""
        for item in self.policies.get(name, ()):
            try:
                allowed = await self._strategy.hit(item, name, key)
                if allowed:
                    continue
                stats = await self._strategy.get_window_stats(item, name, key)
            except Exception as exc:  # Redis away, or any storage fault: serve
                self._storage_failed(exc)
                return None
            self.on_limited(name)
            return Refused(name, item, max(1, math.ceil(stats.reset_time - time.time())))
        return None

    def _storage_failed(self, exc: Exception) -> None:
        self.on_storage_error()
        now = self._clock()
        if now - self._warned_at >= _STORAGE_WARNING_SECONDS:
            self._warned_at = now
            logger.warning(
                "rate-limit storage unavailable, serving unlimited: %s", type(exc).__name__
            )


Networks = Sequence[IPv4Network | IPv6Network]


def trusted_networks(entries: Sequence[str]) -> tuple[IPv4Network | IPv6Network, ...]:
    return tuple(ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def client_ip(peer: str | None, forwarded_for: str | None, trusted: Networks) -> str:
    """The client's address: the peer, or, when the peer is a trusted proxy, the right-most
    address of X-Forwarded-For that is not one of our proxies (the left ones are the client's
    to write)."""
    address = peer or "unknown"
    if not forwarded_for or not _is_trusted(_parsed(address), trusted):
        return address
    for hop in reversed([part.strip() for part in forwarded_for.split(",")]):
        parsed = _parsed(hop)
        if parsed is None:
            return address  # not an address: the proxies' word ends here
        if not _is_trusted(parsed, trusted):
            return hop
    return address


def _parsed(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text)
    except ValueError:
        return None


def _is_trusted(address: IPv4Address | IPv6Address | None, trusted: Networks) -> bool:
    return address is not None and any(address in network for network in trusted)


class RateLimits(SchemaExtension):
    """Counts an HTTP operation before it executes; over a limit, it is not executed at all."""

    def __init__(self, limiter: RateLimiter, trusted: Networks) -> None:
        self.limiter = limiter
        self.trusted = trusted

    async def on_execute(self) -> Any:
        context = self.execution_context.context
        request = getattr(context, "request", None)
        if getattr(request, "scope", {}).get("type") == "http":
            refused = await self._check(context, request)
            if refused is not None:
                response = getattr(context, "response", None)
                if response is not None:
                    response.headers.update(refused.headers())
                self.execution_context.result = ExecutionResult(data=None, errors=[refused.error()])
        yield

    async def _check(self, context: Any, request: Any) -> Refused | None:
        user = getattr(context, "user", None)
        if user is None:
            peer = request.client.host if request.client else None
            ip = client_ip(peer, request.headers.get("x-forwarded-for"), self.trusted)
            return await self.limiter.hit("anonymous", ip)
        refused = await self.limiter.hit("operations", user.user_id)
        if refused is None and self.execution_context.operation_type is OperationType.MUTATION:
            refused = await self.limiter.hit("mutations", user.user_id)
        return refused


def extension(limiter: RateLimiter, trusted: Networks) -> Callable[[], SchemaExtension]:
    return lambda: RateLimits(limiter, trusted)
