"""The one retry and quarantine rule both executors follow."""

from __future__ import annotations

from farm.orchestrator.retry import FailureStreak, retry_pause_s, total_backoff_s
from farm.spec import RunSettings

SETTINGS = RunSettings(retries=2, retry_backoff_s=1.5)


def test_only_infra_attempts_with_attempts_left_are_retried_after_a_doubling_pause() -> None:
    assert [retry_pause_s(SETTINGS, "infra", attempt) for attempt in (1, 2, 3)] == [1.5, 3.0, None]
    assert {retry_pause_s(SETTINGS, kind, 1) for kind in ("timeout", "model", "parity", None)} == {
        None
    }
    assert total_backoff_s(SETTINGS) == 1.5 + 3.0


def test_a_streak_of_infra_failures_quarantines_and_anything_else_breaks_it() -> None:
    streak = FailureStreak(limit=2)
    streak.observe("infra", "adb: device offline")
    streak.observe("model", "bad op")
    streak.observe("timeout", "timed out after 5 s")
    assert not streak.quarantined
    streak.observe("infra", "adb: device offline")
    assert streak.quarantined
    assert streak.reason == "quarantined after 2 infra failures: adb: device offline"
