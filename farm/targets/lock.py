"""A lock on the device itself, so two farm runs on two hosts never share a device.

The lock is a directory in the device workdir (``mkdir`` is atomic on every POSIX and Android
file system) holding an ``owner`` file: who holds it, from where, since when. The holder
touches the file while it works; a lock whose owner file is older than ``stale_s`` is left
over from a run that died, and is taken over. Ages come from the device's own clock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import platform
import re
import threading
import time
from collections.abc import Callable

from farm.errors import TargetError
from farm.targets.base import Target

LOG = logging.getLogger("farm")
# Prints the owner line, then the owner file's age in seconds by the device's clock.
AGE_SCRIPT = (
    'cat "$1/owner" 2>/dev/null; echo; '
    'echo "age=$(( $(date +%s) - $(stat -c %Y "$1/owner" 2>/dev/null || date +%s) ))"'
)


class DeviceBusy(TargetError):
    """Another run holds the device's lock and did not let go in time."""


class DeviceLock:
    """``with DeviceLock(target, run_id):`` holds the device for one run."""

    def __init__(
        self,
        target: Target,
        run_id: str,
        timeout_s: float = 600.0,
        stale_s: float = 120.0,
        refresh_s: float = 20.0,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.target, self.timeout_s, self.stale_s, self.refresh_s = (
            target,
            timeout_s,
            stale_s,
            refresh_s,
        )
        self.path = f"{target.workdir}/.farm-lock"
        self.owner = f"run={run_id} host={platform.node()} pid={os.getpid()}"
        self.on_wait = on_wait or (lambda message: LOG.warning(message))
        self._stop = threading.Event()
        self._refresher: threading.Thread | None = None

    def __enter__(self) -> DeviceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        deadline, announced = time.monotonic() + self.timeout_s, False
        self.target.run(["mkdir", "-p", self.target.workdir], timeout_s=60)
        while not self._try_take():
            holder, age = self._holder()
            if (age is not None and age > self.stale_s) or _died_here(holder):
                LOG.warning(
                    "%s: taking over a stale lock (%s, %s s old)",
                    self.target.name,
                    readable(holder),
                    age,
                )
                self.target.run(["rm", "-rf", self.path], timeout_s=60)
                continue
            if time.monotonic() > deadline:
                raise DeviceBusy(self.target.name, f"device busy: locked by {readable(holder)}")
            if not announced:
                self.on_wait(
                    f"{self.target.name}: waiting for the device lock held by {readable(holder)}"
                )
                announced = True
            time.sleep(min(2.0, self.timeout_s / 10 or 0.1))
        self._refresher = threading.Thread(target=self._refresh, daemon=True)
        self._refresher.start()

    def _try_take(self) -> bool:
        if not self.target.run(["mkdir", self.path], timeout_s=60).ok:
            return False
        script = 'printf "%s since=%s" "$2" "$(date +%s)" > "$1/owner"'
        self.target.run(["sh", "-c", script, "lock", self.path, self.owner], timeout_s=60)
        return True

    def _holder(self) -> tuple[str, int | None]:
        result = self.target.run(["sh", "-c", AGE_SCRIPT, "lock", self.path], timeout_s=60)
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        age = lines[-1].removeprefix("age=") if lines else ""
        holder = " ".join(lines[:-1]) or "an unknown owner"
        return holder, int(age) if age.lstrip("-").isdigit() else None

    def _refresh(self) -> None:
        while not self._stop.wait(self.refresh_s):
            with contextlib.suppress(TargetError):
                self.target.run(["touch", f"{self.path}/owner"], timeout_s=60)

    def release(self) -> None:
        self._stop.set()
        if self._refresher:
            self._refresher.join(timeout=5)
        with contextlib.suppress(TargetError):
            self.target.run(["rm", "-rf", self.path], timeout_s=60)


def readable(holder: str) -> str:
    """The owner line for people: ``since=<epoch>`` as ``since 2026-12-06 08:30:12 UTC``."""

    def moment(match: re.Match[str]) -> str:
        when = dt.datetime.fromtimestamp(int(match.group(1)), dt.timezone.utc)
        return f"since {when:%Y-%m-%d %H:%M:%S} UTC"

    return re.sub(r"\bsince=(\d+)\b", moment, holder)


def _died_here(holder: str) -> bool:
    """A lock taken by a process of this host that no longer exists (a killed run) is stale
    at once; a lock from another host is only stale by age."""
    fields = dict(part.split("=", 1) for part in holder.split() if "=" in part)
    if fields.get("host") != platform.node() or not fields.get("pid", "").isdigit():
        return False
    try:
        os.kill(int(fields["pid"]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
