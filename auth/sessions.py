"""Signed out means signed out: a token's `sid` is honoured only while its session is alive.

Better Auth ends a session (sign-out, revokeSession(s), a ban) by deleting its row; the JWT
itself stays valid until `exp`. So a token carrying `sid` is checked against Better Auth's
session table, with answers cached at most `max_age` seconds: that is the revocation lag.

A lookup costs a round trip and about as much CPU as a third of a request, so requests rarely
wait for one: the sessions in use are looked up again in the background, every half bound, a
few hundred in one statement, before their answers go stale. Only a session's first request
(or its first after a pause) waits; misses that arrive together share one statement, and
requests of one session share one lookup.
"""

from __future__ import annotations

import asyncio
import contextlib
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
        self._active: set[str] = set()  # sessions asked about since the last refresh
        self._refresher: asyncio.Task[None] | None = None
        self._warned_at = -math.inf

    async def check(self, user: AuthenticatedUser, *, max_age: float | None = None) -> None:
        """Nothing when `user` carries no session id or its session is alive; AuthError
        `revoked` when it ended; AuthUnavailable when the database could not say in time.

        An answer is reused while younger than `max_age` (default: the configured bound)."""
        sid = user.session_id
        if sid is None:
            return
        if self._refresher is None:
            self._refresher = asyncio.create_task(self._refresh_forever())
        self._active.add(sid)
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

    async def refresh_active(self) -> None:
        """Look up again the sessions asked about since the last refresh whose answers are at
        least half a bound old, so that they are fresh when their next request comes."""
        now = self._clock()
        due = [
            sid
            for sid in self._active
            if sid not in self._waiting
            and (answer := self._cache.get(sid)) is not None
            and now - answer.checked_at >= self.max_age / 2
        ]
        self._active.clear()
        for start in range(0, len(due), _BATCH):
            await self._run_batch(due[start : start + _BATCH])

    async def aclose(self) -> None:
        for task in (self._refresher, self._flush):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._refresher = self._flush = None

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.max_age / 2)
            await self.refresh_active()

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
            waiting = self._waiting.pop(sid, None)  # none for a background refresh
            if waiting is not None and not waiting.done():
                waiting.set_result(answer)
