"""What a test can make a virtual device do wrong: hang for a while, refuse the next push, or
drop off the bus after N more commands. Thread-safe; the device and its services consult it."""

from __future__ import annotations

import threading
import time

STALL_POLL_S = 0.05


class Faults:
    """The pending faults of one device."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stall_until = 0.0
        self._push_failure: str | None = None
        self._offline_at: int | None = None
        self.commands = 0

    def stall(self, seconds: float) -> None:
        """Neither read nor write anything for ``seconds`` from now (a hung device)."""
        with self._lock:
            self._stall_until = time.monotonic() + seconds

    def wait_while_stalled(self, abort: threading.Event) -> None:
        """Block while a stall lasts, or until ``abort`` (the connection was dropped)."""
        while not abort.is_set():
            with self._lock:
                remaining = self._stall_until - time.monotonic()
            if remaining <= 0:
                return
            abort.wait(min(remaining, STALL_POLL_S))

    def fail_next_push(self, message: str) -> None:
        """The next SEND answers FAIL with ``message`` (what `adb push` then prints)."""
        with self._lock:
            self._push_failure = message

    def take_push_failure(self) -> str | None:
        with self._lock:
            failure, self._push_failure = self._push_failure, None
            return failure

    def go_offline_after(self, commands: int) -> None:
        """Let ``commands`` more services open; the next one finds the device gone."""
        with self._lock:
            self._offline_at = self.commands + commands

    def count_command(self) -> bool:
        """Count one service being opened; True when the device must vanish instead."""
        with self._lock:
            self.commands += 1
            return self._offline_at is not None and self.commands > self._offline_at

    def clear_offline(self) -> None:
        with self._lock:
            self._offline_at = None
