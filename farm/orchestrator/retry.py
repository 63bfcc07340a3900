"""What a run does about infra failures, the same under every executor.

An attempt that failed for infra reasons is tried again on the same device, after a pause that
doubles each time, up to ``settings.retries`` more attempts; model, delegate, parity and timeout
failures are final. A device whose cells failed for infra reasons (timeouts included)
``settings.quarantine_after`` times in a row is quarantined: its other cells fail at once.
"""

from __future__ import annotations

from farm.spec import INFRA_KINDS, RunSettings, quarantine_reason


def retry_pause_s(settings: RunSettings, failure_kind: str | None, attempt: int) -> float | None:
    """The pause before trying again a cell whose ``attempt`` ended with ``failure_kind``;
    None when it is not tried again."""
    if failure_kind != "infra" or attempt > settings.retries:
        return None
    return settings.retry_backoff_s * 2 ** (attempt - 1)


def total_backoff_s(settings: RunSettings) -> float:
    """All the pauses of a cell that used every retry."""
    return settings.retry_backoff_s * (2**settings.retries - 1)


class FailureStreak:
    """A device's infra-failed cells in a row; at ``limit`` it is quarantined, with a reason
    that names the streak and the last failure."""

    def __init__(self, limit: int) -> None:
        self.limit, self.count, self.reason = limit, 0, ""

    @property
    def quarantined(self) -> bool:
        return self.count >= self.limit

    def observe(self, failure_kind: str | None, reason: str | None) -> None:
        """A cell's last attempt ended."""
        if failure_kind in INFRA_KINDS:
            self.count += 1
            self.reason = quarantine_reason(self.count, reason)
        else:
            self.count = 0
