"""Summary statistics of one cell's latency samples (ms)."""

from __future__ import annotations

from collections.abc import Sequence

PERCENTILES = {"p5": 5, "median": 50, "p90": 90, "p95": 95, "p99": 99}


def summarize_latency(samples_ms: Sequence[float]) -> dict[str, float | None]:
    """latency_{mean,median,p5,p90,p95,p99,min,max,std}_ms; all None when there are no samples.

    std is the sample standard deviation (ddof=1), None for a single sample: one number has
    no spread, and 0 would claim a perfectly stable device.
    """
    import numpy as np

    names = ["mean", *PERCENTILES, "min", "max", "std"]
    if len(samples_ms) == 0:
        return {f"latency_{name}_ms": None for name in names}
    values = np.asarray(samples_ms, dtype=np.float64)
    stats = {"mean": values.mean(), "min": values.min(), "max": values.max()}
    stats.update(zip(PERCENTILES, np.percentile(values, list(PERCENTILES.values())), strict=True))
    stats["std"] = values.std(ddof=1) if len(values) > 1 else None
    return {f"latency_{name}_ms": _float(stats[name]) for name in names}


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
