"""What both benchmarked servers share: a bounded lifetime, and a meter for JWT verification CPU."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import os
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse

T = TypeVar("T")


def server_arguments() -> argparse.Namespace:
    """--port and --max-seconds, which every benchmarked server takes; its lifetime is bound."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-seconds", type=float, required=True)
    args = parser.parse_args()
    bound_lifetime(args.max_seconds)
    return args


def bound_lifetime(max_seconds: float) -> None:
    """SIGTERM ourselves after max_seconds, and exit hard 15 s later: no orphan outlives a run.

    Also asks Linux to SIGTERM us when the benchmark process that started us dies.
    """
    _die_with_parent()

    def watchdog() -> None:
        time.sleep(max_seconds)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(15)
        os._exit(3)

    threading.Thread(target=watchdog, daemon=True, name="lifetime").start()


def _die_with_parent() -> None:
    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError, TypeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() == 1:  # the parent is already gone
        os.kill(os.getpid(), signal.SIGTERM)


class JwtMeter:
    """CPU time spent verifying tokens, on the event loop's thread (where verification runs)."""

    def __init__(self) -> None:
        self.cpu_seconds = 0.0
        self.verifications = 0

    def measure(self, verify: Callable[[str], T]) -> Callable[[str], T]:
        def measured(token: str) -> T:
            started = time.thread_time()
            try:
                return verify(token)
            finally:
                self.cpu_seconds += time.thread_time() - started
                self.verifications += 1

        return measured

    def measure_async(self, verify: Callable[[str], Awaitable[T]]) -> Callable[[str], Awaitable[T]]:
        # A cached or HS256 verification never suspends, so the thread time is its own; only a
        # JWKS fetch would suspend, and the warm-up has done that before anything is measured.
        async def measured(token: str) -> T:
            started = time.thread_time()
            try:
                return await verify(token)
            finally:
                self.cpu_seconds += time.thread_time() - started
                self.verifications += 1

        return measured

    async def endpoint(self, _: Request) -> JSONResponse:
        return JSONResponse(
            {"jwt_cpu_seconds": self.cpu_seconds, "verifications": self.verifications}
        )
