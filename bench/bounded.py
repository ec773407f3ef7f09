"""`python -m bench.bounded SECONDS COMMAND...`: COMMAND, ended with SIGTERM after SECONDS (SIGKILL
15 s later) and when the process that started it dies, like bench/instrument.py's servers."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys


def main() -> None:
    seconds, *command = sys.argv[1:]
    with contextlib.suppress(OSError, AttributeError, TypeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG survives the exec below
    if os.getppid() == 1:
        raise SystemExit("bench.bounded: the parent is already gone")
    # GNU timeout passes a SIGTERM it receives on to COMMAND, so the parent's death reaches it.
    os.execvp("timeout", ["timeout", "--kill-after=15", seconds, *command])  # noqa: S606


if __name__ == "__main__":
    main()
