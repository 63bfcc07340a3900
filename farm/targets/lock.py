"""A lock on the device itself, so two farm runs on two hosts never share a device.

The lock is a directory in the device workdir (``mkdir`` is atomic on every POSIX and Android
file system) holding an ``owner`` file: who holds it, from where, since when. The holder
touches the file while it works; a lock whose owner file is older than ``stale_s`` is left
over from a run that died, and is taken over. Ages come from the device's own clock.

It also holds a ``runner`` file: the device pid of the cell's runner, written by the runner's
own shell before it execs the runner (``recorded``). A run that died may have left that
runner measuring: adbd kills the process group of a shell whose connection went, and GNU
`timeout` moves the command to a group of its own (setpgid in timeout.c; seen on the virtual
phone's linux-python profile: the runner went on under init). Whoever takes the lock over
kills it first, and a second Ctrl-C kills it by the same record (``stop_runner``).
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
# Writes the shell's pid, which `exec` hands on to the runner, then runs the runner.
RECORD_SCRIPT = 'echo $$ > "$1/runner"; shift; exec "$@"'
# Kills the recorded runner if that pid still runs a command naming the workdir (a pid the
# device reused since, after a reboot, is left alone), with its process group where it leads
# one (on the host: a shell script's children too); prints the pid it killed.
STOP_SCRIPT = (
    'p=$(cat "$1/runner" 2>/dev/null); [ -n "$p" ] || exit 0; '
    # A pid recorded in another pid namespace (the strict virtual phone gives each command
    # one) may name one of this command's own processes here: every one of them (its
    # wrappers, this script, grep) carries the script's name ($0) in its command line.
    'grep -qF -e "$0" "/proc/$p/cmdline" 2>/dev/null && exit 0; '
    'grep -qF -e "$2" "/proc/$p/cmdline" 2>/dev/null || exit 0; '
    '{ kill -9 -"$p" || kill -9 "$p"; } 2>/dev/null && echo "$p"'
)
# Prints the owner line, then the owner file's age in seconds by the device's clock.
AGE_SCRIPT = (
    'cat "$1/owner" 2>/dev/null; echo; '
    'echo "age=$(( $(date +%s) - $(stat -c %Y "$1/owner" 2>/dev/null || date +%s) ))"'
)


class DeviceBusy(TargetError):
    """Another run holds the device's lock and did not let go in time."""


class WaitInterrupted(TargetError):
    """The run was interrupted while it waited for another run's lock."""


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
        interrupted: threading.Event | None = None,
    ) -> None:
        """``interrupted``: set by the run's Ctrl-C; a wait for the lock then ends at once
        (WaitInterrupted): nothing has run on the device yet."""
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
        self.interrupted = interrupted or threading.Event()
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
                self._stop_stale_runner(holder)
                self.target.run(["rm", "-rf", self.path], timeout_s=60)
                continue
            if time.monotonic() > deadline:
                raise DeviceBusy(self.target.name, f"device busy: locked by {readable(holder)}")
            if not announced:
                self.on_wait(
                    f"{self.target.name}: waiting for the device lock held by {readable(holder)}"
                )
                announced = True
            if self.interrupted.wait(min(2.0, self.timeout_s / 10 or 0.1)):
                raise WaitInterrupted(self.target.name, f"interrupted waiting for {holder}")
        self._refresher = threading.Thread(target=self._refresh, daemon=True)
        self._refresher.start()

    def recorded(self, argv: list[str]) -> list[str]:
        """``argv`` run so that the lock records its pid on the device (see STOP_SCRIPT)."""
        return ["sh", "-c", RECORD_SCRIPT, "record", self.path, *argv]

    def stop_runner(self) -> str | None:
        """Kill the runner the lock records, if it still runs; its pid, or None."""
        script = ["sh", "-c", STOP_SCRIPT, "farm-stop-runner", self.path, self.target.workdir]
        killed = self.target.run(script, timeout_s=60).stdout.strip()
        return killed or None

    def _stop_stale_runner(self, holder: str) -> None:
        pid = self.stop_runner()
        if pid is not None:
            LOG.warning(
                "%s: killed the runner (pid %s) that the stale lock's run (%s) left running",
                self.target.name,
                pid,
                holder,
            )

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
