"""Lab-wide device health: the quarantine every driver sees, and each cell's attempt count.

One instance lives in a detached, named Ray actor (``executor.lab_health``), so a device that
failed for infra reasons ``limit`` cells in a row is quarantined for every run on the lab, not
only the run that saw it fail. Unlike a local run's quarantine, which ends with the run, this
one outlives runs: it expires after ``quarantine_s`` (a host that came back is used again) or
when `farm lab status --release NAME` lifts it. Plain Python, so it is tested without Ray.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from farm.orchestrator.retry import FailureStreak

QUARANTINE_S = 600.0


@dataclass
class Quarantine:
    reason: str
    until: float  # time.time() at which it expires


class LabHealth:
    """Consecutive infra failures per device, quarantines, and attempts per cell of a run."""

    def __init__(
        self, quarantine_s: float = QUARANTINE_S, clock: Callable[[], float] = time.time
    ) -> None:
        self.quarantine_s, self.clock = quarantine_s, clock
        self.streaks: dict[str, FailureStreak] = {}
        self.quarantines: dict[str, Quarantine] = {}
        self.attempts: dict[str, dict[str, int]] = {}  # run id -> cell id -> attempts so far
        self.failed: dict[str, dict[str, list[Any]]] = {}  # run id -> cell id -> retried rows

    def begin(self, run_id: str, cell_id: str, device: str) -> tuple[int, str | None]:
        """A cell attempt starts: its attempt number, and the quarantine reason if any."""
        cells = self.attempts.setdefault(run_id, {})
        cells[cell_id] = cells.get(cell_id, 0) + 1
        return cells[cell_id], self.quarantined(device)

    def quarantined(self, device: str) -> str | None:
        quarantine = self.quarantines.get(device)
        if quarantine is None:
            return None
        if self.clock() >= quarantine.until:
            self.release(device)
            return None
        return quarantine.reason

    def observe(self, device: str, failure_kind: str | None, reason: str, limit: int) -> None:
        """A cell's last attempt ended: count infra failures in a row, quarantine at ``limit``."""
        streak = self.streaks.setdefault(device, FailureStreak(limit))
        streak.limit = limit
        streak.observe(failure_kind, reason)
        if streak.quarantined and device not in self.quarantines:
            self.quarantines[device] = Quarantine(streak.reason, self.clock() + self.quarantine_s)

    def release(self, device: str) -> bool:
        """Lift a quarantine (True if there was one); the device's streak starts over."""
        self.streaks.pop(device, None)
        return self.quarantines.pop(device, None) is not None

    def retried(self, run_id: str, cell_id: str, row: Any) -> None:
        """Keep the row of an attempt that Ray will retry, for the driver's journal."""
        self.failed.setdefault(run_id, {}).setdefault(cell_id, []).append(row)

    def take_retried(self, run_id: str, cell_id: str) -> list[Any]:
        """The rows of a cell's retried attempts, oldest first (each given out once)."""
        return self.failed.get(run_id, {}).pop(cell_id, [])

    def forget(self, run_id: str) -> None:
        """A run ended: its attempt counts and retried rows are no longer needed."""
        self.attempts.pop(run_id, None)
        self.failed.pop(run_id, None)

    def status(self) -> dict[str, str]:
        """Each quarantined device and why (expired ones are dropped first)."""
        return {d: r for d in list(self.quarantines) if (r := self.quarantined(d)) is not None}
