"""What any runner tells the orchestrator about one cell, whatever printed it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RunnerOutcome:
    """The runner's verdict on one cell and its numbers.

    ``samples_ms`` holds every timed invoke when the runner keeps them (the Python runner);
    a runner that prints only statistics (``benchmark_model``) fills ``latency`` instead, with
    the ``latency_*_ms`` keys it really printed (and ``latency_count``, its runs). ``metrics``
    maps result columns to values.
    """

    status: str
    failure_kind: str | None
    reason: str | None
    samples_ms: tuple[float, ...] = ()
    metrics: dict[str, Any] = field(default_factory=dict)
    latency: dict[str, float | int | None] = field(default_factory=dict)
