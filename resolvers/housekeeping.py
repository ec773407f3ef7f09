"""Work off the request path: a job run every so often for the app's lifetime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger("taskql.housekeeping")


async def cancelled(task: asyncio.Task[None] | None) -> None:
    """Cancel a background task (if any) and wait until it has stopped."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Periodic:
    """Runs `job` every `interval` seconds in the background; a failure (the database may be
    away) is logged and the next run tries again. `job` returns how much it did, for the log."""

    def __init__(self, name: str, job: Callable[[], Awaitable[int]], interval: float) -> None:
        self.name, self.job, self.interval = name, job, interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._forever(), name=f"taskql-{self.name}")

    async def aclose(self) -> None:
        await cancelled(self._task)
        self._task = None

    async def _forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                done = await self.job()
            except Exception as exc:
                logger.warning(
                    "%s: failed (%s); retrying in %.0f s",
                    self.name,
                    type(exc).__name__,
                    self.interval,
                )
                continue
            if done:
                logger.debug("%s: %d done", self.name, done)
