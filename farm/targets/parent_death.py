"""A child process that dies with the farm: Linux's parent-death signal.

`farm run` killed with SIGKILL (an OOM kill, a CI runner's hard cancel, `kill -9`) runs no
handler, so nothing it started is stopped by it: a runner measuring for ``--min-seconds 1000``
goes on under init, next to whatever the next run measures. ``PR_SET_PDEATHSIG`` asks the
kernel to send the child a signal when its parent dies (prctl(2)); it survives execve and is
cleared on fork, so the runner itself carries it. Elsewhere (macOS) there is no such call and
the runner only stops at its own timeout.

prctl(2) says the signal comes when the parent *thread* ends: the thread that starts a runner
waits for it, so it cannot end first.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


# Looked up once, here: the function that runs between fork and exec must not import or load.
_PRCTL = _prctl()


def dying_with_this_process() -> Callable[[], None] | None:
    """A ``preexec_fn`` for subprocess.Popen: the child gets SIGKILL when this process dies
    (None where the system has no parent-death signal)."""
    if _PRCTL is None:
        return None
    parent = os.getpid()
    prctl = _PRCTL

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the farm died between fork and prctl: nothing will come
            os._exit(1)

    return arm
