"""A cell asking for more threads than its device has cores: its threads share cores, so its
latency measures the scheduler as much as the delegate (a warning, not a failure).

The core count comes from the device's fingerprint (``Target.describe()``): ``cpu_count`` on
the local host (``os.cpu_count()``), ``cores`` on an SSH board (``nproc``). An adb phone's
getprop fingerprint has no core count: no warning there rather than a guess."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

CORE_KEYS = ("cores", "cpu_count")


def fingerprint_cores(fingerprint: str | Mapping[str, Any] | None) -> int | None:
    """The device's core count from its fingerprint (the JSON text or its dict); None: unknown."""
    facts = _facts(fingerprint)
    for key in CORE_KEYS:
        try:
            cores = int(facts.get(key) or 0)
        except (TypeError, ValueError):
            continue
        if cores > 0:
            return cores
    return None


def _facts(fingerprint: str | Mapping[str, Any] | None) -> Mapping[str, Any]:
    if isinstance(fingerprint, Mapping):
        return fingerprint
    try:
        facts = json.loads(fingerprint) if isinstance(fingerprint, str) else None
    except ValueError:
        return {}
    return facts if isinstance(facts, dict) else {}


def more_threads_than_cores(device: str, threads: int, cores: int) -> str:
    """The warning, worded once for the terminal and the dashboard."""
    return (
        f"{device}: {threads} threads on {cores} cores: the threads share cores, so these "
        f"latencies measure contention too"
    )
