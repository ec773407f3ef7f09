"""Signed out means signed out: a token's `sid` is honoured only while its session is alive.

Better Auth ends a session (sign-out, revokeSession(s), a ban) by deleting its row; the JWT
itself stays valid until `exp`. So a token carrying `sid` is checked against Better Auth's
session table, with answers cached at most `max_age` seconds: that is the revocation lag.
Misses that arrive together are looked up in one batch, and one session is looked up once,
however many requests wait for it, so the check costs no round trip per request at load.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from auth.errors import AuthError, AuthUnavailable
from auth.user import AuthenticatedUser

logger = logging.getLogger("taskql.auth")

REVOKED = "Session has ended. Please log in again."
_WARNING_SECONDS = 60.0  # an outage is logged once a minute, not once per batch
_BATCH = 500  # ids per lookup: one statement, well under any bind-parameter limit


class SessionRowLike(Protocol):
    @property
    def user_id(self) -> str: ...

    @property
    def expires_at(self) -> float: ...


Fetch = Callable[[Sequence[str]], Awaitable[Mapping[str, SessionRowLike]]]


@dataclass(frozen=True, slots=True)
class _Answer:
    owner: str | None  # None: no such session
    expires_at: float
    checked_at: float


class SessionCheck:
    """Whether the session behind a token is alive, as Better Auth's database says."""

    def __init__(
        self,
        fetch: Fetch,
        *,
        max_age: float,
        cache_size: int = 100_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_age = max_age
        self._fetch = fetch
        self._clock = clock
        self._cache: OrderedDict[str, _Answer] = OrderedDict()
        self._cache_size = cache_size
        self._waiting: dict[str, asyncio.Future[_Answer | None]] = {}
        self._batch: list[str] = []
        self._flush: asyncio.Task[None] | None = None
        self._warned_at = -math.inf

    async def check(self, user: AuthenticatedUser, *, max_age: float | None = None) -> None:
        """Nothing when `user` carries no session id or its session is alive; AuthError
        `revoked` when it ended; AuthUnavailable when the database could not say in time.

        An answer is reused while younger than `max_age` (default: the configured bound)."""
        sid = user.session_id
        if sid is None:
            return
        now = self._clock()
        answer = self._cache.get(sid)
        oldest = self.max_age if max_age is None else max_age
        if answer is None or now - answer.checked_at >= oldest:
            answer = await self._lookup(sid)
            if answer is None:
                raise AuthUnavailable("Better Auth's database did not answer")
        if answer.owner != user.user_id or now >= answer.expires_at:
            # Another user's session in a forged-but-signed token is no session of this one.
            raise AuthError("revoked", REVOKED)

    def _remember(self, sid: str, answer: _Answer) -> None:
        self._cache[sid] = answer
        self._cache.move_to_end(sid)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def _lookup(self, sid: str) -> _Answer | None:
        waiting = self._waiting.get(sid)
        if waiting is None:
            waiting = asyncio.get_running_loop().create_future()
            self._waiting[sid] = waiting
            self._batch.append(sid)
            if self._flush is None:
                # Starts once the current callbacks ran: every miss of this moment joins it.
                self._flush = asyncio.create_task(self._run_batches())
        return await asyncio.shield(waiting)

    async def _run_batches(self) -> None:
        try:
            while self._batch:
                ids, self._batch = self._batch[:_BATCH], self._batch[_BATCH:]
                await self._run_batch(ids)
        finally:
            self._flush = None

    async def _run_batch(self, ids: list[str]) -> None:
        checked_at = self._clock()
        try:
            rows = await self._fetch(ids)
        except Exception as exc:  # unreachable, timed out, refused: the callers answer 503
            if checked_at - self._warned_at >= _WARNING_SECONDS:
                self._warned_at = checked_at
                logger.warning(
                    "session check: Better Auth's database did not answer (%s); "
                    "requests that need it are answered 503",
                    type(exc).__name__,
                )
            rows = None
        for sid in ids:
            answer: _Answer | None = None
            if rows is not None:
                row = rows.get(sid)
                answer = (
                    _Answer(row.user_id, row.expires_at, checked_at)
                    if row is not None
                    else _Answer(None, 0.0, checked_at)
                )
                self._remember(sid, answer)
            waiting = self._waiting.pop(sid)
            if not waiting.done():
                waiting.set_result(answer)
