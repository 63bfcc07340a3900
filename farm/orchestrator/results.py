"""Building result rows: from a runner's outcome, a skip, or a failure before any outcome."""

from __future__ import annotations

from typing import Any

from farm.runners.outcome import RunnerOutcome
from farm.spec import Cell, CellResult, FailureKind, Skip
from farm.stats import summarize_latency


def identity(run_id: str, cell: Cell) -> dict[str, Any]:
    """The columns that say which cell a row is, whatever became of it."""
    model = cell.model
    return {
        "run_id": run_id,
        "device": cell.device.name,
        "model": model.name,
        "delegate": cell.delegate,
        "threads": cell.threads,
        "model_sha256": model.sha256,
        "model_family": model.family,
        "model_variant": model.variant,
        "model_size_bytes": model.size_bytes,
        "runner": cell.device.runner,
    }


def outcome_result(
    run_id: str, cell: Cell, outcome: RunnerOutcome, started: str, wall_s: float
) -> CellResult:
    """A row from what the runner reported; statistics from its samples when it kept them."""
    values: dict[str, Any] = {
        **identity(run_id, cell),
        "status": outcome.status,
        "failure_kind": outcome.failure_kind,
        "reason": outcome.reason,
        "samples_ms": outcome.samples_ms,
        "started_at": started,
        "wall_s": wall_s,
        **outcome.metrics,
    }
    if outcome.status == "ok":
        if outcome.samples_ms:
            values.update(summarize_latency(outcome.samples_ms))
            values["latency_count"] = len(outcome.samples_ms)
        else:  # a native runner's summary: its numbers, and the runs it says they stand for
            values.update(outcome.latency)
    return CellResult(**values)


def failed_result(
    run_id: str, cell: Cell, kind: FailureKind, reason: str, started: str, wall_s: float | None
) -> CellResult:
    return CellResult(
        **identity(run_id, cell),
        status="failed",
        failure_kind=kind,
        reason=reason,
        started_at=started,
        wall_s=wall_s,
    )


def skipped_result(run_id: str, skip: Skip) -> CellResult:
    return CellResult(**identity(run_id, skip.cell), status="skipped", reason=skip.reason)
