"""Waiting without guessing: poll a condition to a deadline, or move a fake clock instead."""

from __future__ import annotations

import asyncio
import inspect
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from types import FrameType


class TimedOut(AssertionError):
    """A condition did not come true by its deadline (the message says which)."""


def wait_until(
    condition: Callable[[], bool], *, within: float, message: str, interval: float = 0.05
) -> None:
    """Returns as soon as `condition()` is true; raises TimedOut after `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() >= deadline:
            raise TimedOut(f"{message} (waited {within} s)")
        time.sleep(interval)


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]],
    *,
    within: float,
    message: str,
    interval: float = 0.05,
) -> None:
    """`wait_until` for the event loop: `condition` may be a plain function or a coroutine one."""
    deadline = time.monotonic() + within
    while True:
        outcome = condition()
        if await outcome if inspect.isawaitable(outcome) else outcome:
            return
        if time.monotonic() >= deadline:
            raise TimedOut(f"{message} (waited {within} s)")
        await asyncio.sleep(interval)


class FakeClock:
    """A monotonic clock that moves only when a test says so (pass it where a clock is taken)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def monotonic(self) -> float:  # so that it can stand in for the `time` module too
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Overran(BaseException):
    """Raised into whatever holds the loop: not an Exception, so no handler turns it into a 500."""


@contextmanager
def overrun_guard(seconds: float, doing: str = "") -> Iterator[None]:
    """Interrupts the test after `seconds`, so a regression fails here instead of hanging.

    A timeout on the event loop cannot fire while validation holds it; a signal can.
    """

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise Overran(f"still busy after {seconds} s {doing}".rstrip())

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
