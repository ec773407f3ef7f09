"""A connection pool that serves waiting requests in arrival order.

SQLAlchemy's asyncio pool waits on an asyncio.Queue, and its checkout first tries to take a free
connection without waiting. A connection handed back wakes the longest waiter, but a request that
arrives before the waiter runs takes it, and the waiter queues again at the back. Under steady
load (more concurrent requests than connections) a waiter can lose that race for the whole pool
timeout and fail with 503 while the pool is busy but healthy. Here a connection handed back goes
straight to the longest waiter, and nobody takes a free connection while others wait.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.util import await_
from sqlalchemy.util.queue import AsyncAdaptedQueue, Empty


class FairQueue(AsyncAdaptedQueue[Any]):
    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._waiters: deque[asyncio.Future[Any]] = deque()

    def put_nowait(self, item: Any) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # a waiter that timed out is already cancelled
                waiter.set_result(item)
                return
        super().put_nowait(item)

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        self.put_nowait(item)  # the pool never checks in more than it holds

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        if not self._waiters and not self.empty():
            return self.get_nowait()
        if not block:
            raise Empty()
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await_(asyncio.wait_for(waiter, timeout))
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self.put_nowait(waiter.result())  # handed over as we gave up: pass it on
            if isinstance(exc, TimeoutError):
                raise Empty() from exc
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)


class FairAsyncPool(AsyncAdaptedQueuePool):
    _queue_class = FairQueue
