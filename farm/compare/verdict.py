"""Two result sets → one verdict per cell: faster, slower, same or not comparable.

A cell is ``slower`` only when the whole confidence interval of its relative change lies above
+threshold: the change is both practically (beyond the threshold) and statistically (beyond the
run's own noise) significant; ``faster`` likewise below -threshold. Cells that kept no samples
(benchmark_model) have no interval: their point change must exceed both the threshold and the
runs' combined spread (std), and the reason says so. Cells with a few samples (fewer than
MIN_SAMPLES per run) may only be "same"; a change beyond the threshold and spread is "not
enough samples" (not comparable), never a regression.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from farm.compare.comparison import CellComparison, Comparison, Verdict
from farm.compare.keys import Row, incomparable_reasons, rows_by_key, unchecked_notes
from farm.compare.stats import (
    MIN_SAMPLES,
    Change,
    median_change,
    median_changes,
    summary_change,
)
from farm.spec import INFRA_KINDS, CellKey


def compare_runs(
    base: pd.DataFrame,
    new: pd.DataFrame,
    threshold: float = 0.05,
    confidence: float = 0.95,
    seed: int = 0,
) -> Comparison:
    """Compare every cell of two results frames (``farm.store.load_results``).

    Deterministic for a given seed; each cell draws from its own stream (seed, cell key), so a
    cell's interval does not change when other cells are added or removed.
    """
    if not 0 <= threshold < 1 or not 0 < confidence < 1 or seed < 0:
        raise ValueError(
            f"need 0 <= threshold < 1, 0 < confidence < 1 and seed >= 0 "
            f"(got {threshold}, {confidence}, {seed})"
        )
    base_rows, new_rows = rows_by_key(base), rows_by_key(new)
    keys = sorted(base_rows.keys() | new_rows.keys())
    why = {key: _not_comparable(base_rows.get(key), new_rows.get(key)) for key in keys}
    intervals = _intervals(keys, base_rows, new_rows, why, confidence, seed)
    rows = tuple(
        compare_cell(
            key, base_rows.get(key), new_rows.get(key), why[key], threshold, confidence, seed,
            intervals.get(key),
        )
        for key in keys
    )  # fmt: skip
    return Comparison(rows, threshold, confidence, seed)


def _intervals(
    keys: Sequence[CellKey],
    base_rows: dict[CellKey, dict[str, Any]],
    new_rows: dict[CellKey, dict[str, Any]],
    why: dict[CellKey, str | None],
    confidence: float,
    seed: int,
) -> dict[CellKey, Change]:
    """The bootstrap interval of every cell that may need one, computed together (what
    ``compare_cell`` would compute for each, from the same per-cell stream): counting the
    resampled medians one cell at a time was most of the time of comparing 2,880 cells.
    ``why``: each cell's reason not to compare it (``_not_comparable``), None for none."""
    wanted = [
        (key, base_rows[key], new_rows[key])
        for key in keys
        if why[key] is None and _bootstraps(base_rows[key], new_rows[key])
    ]
    cells = [(base["samples_ms"], new["samples_ms"], _rng(seed, key)) for key, base, new in wanted]
    changes = median_changes(cells, confidence)
    return {key: change for (key, _, _), change in zip(wanted, changes, strict=True)}


def _bootstraps(base: Row, new: Row) -> bool:
    """Whether ``compare_cell`` will take a comparable cell's change from a block bootstrap of
    one process a side: with an interval (``_has_interval``), no side in processes."""
    single = all(len(row.get("process_samples") or ()) < 2 for row in (base, new))
    return single and _has_interval(base, new)


def _has_interval(base: Row, new: Row) -> bool:
    """Whether the change gets a bootstrap interval: enough samples on both sides and a base
    median above 0 (else the summary statistics decide, ``_change``)."""
    base_samples, new_samples = base.get("samples_ms") or [], new.get("samples_ms") or []
    fewest = min(len(base_samples), len(new_samples))
    return fewest >= MIN_SAMPLES and bool(np.median(base_samples) > 0)


def compare_cell(
    key: CellKey,
    base: Row | None,
    new: Row | None,
    why: str | None,
    threshold: float,
    confidence: float,
    seed: int,
    interval: Change | None = None,
) -> CellComparison:
    """One cell's verdict; ``base`` or ``new`` is None when the cell is missing from that side.
    ``why``: its reason not to be compared (``_not_comparable``); ``interval``: its bootstrap
    change when already computed (``_intervals``)."""
    known: dict[str, Any] = key._asdict()
    known.update(
        base_median_ms=_get(base, "latency_median_ms"),
        new_median_ms=_get(new, "latency_median_ms"),
        n_base=len(_get(base, "samples_ms") or ()),
        n_new=len(_get(new, "samples_ms") or ()),
        parity_broken=_parity_broken(base, new),
        parity_class=_get(new, "parity_class"),
        infra_failure=_get(new, "failure_kind") in INFRA_KINDS,
    )
    if why or base is None or new is None:
        return CellComparison(verdict="not comparable", reason=why, **known)
    fewest = min(known["n_base"], known["n_new"])
    change, notes = _change(base, new, fewest, confidence, lambda: _rng(seed, key), interval)
    if change is None:
        return CellComparison(verdict="not comparable", reason="; ".join(notes), **known)
    known.update(base_median_ms=change.base_ms, new_median_ms=change.new_ms)
    verdict = decide(change, threshold)
    if verdict != "same" and few_samples(fewest):
        return CellComparison(verdict="not comparable", reason="; ".join(notes), **known)
    notes += unchecked_notes(base, new)
    return CellComparison(
        verdict=verdict,
        reason="; ".join(notes) or None,
        change=change.change,
        ci_low=change.ci_low,
        ci_high=change.ci_high,
        method=change.method,
        **known,
    )


def decide(change: Change, threshold: float) -> Verdict:
    """slower/faster only when the interval (or, without one, the point change and the runs'
    spread) clears the threshold on one side."""
    if change.ci_low is not None and change.ci_high is not None:
        low, high, bar = change.ci_low, change.ci_high, threshold
    else:
        low = high = change.change
        bar = max(threshold, change.noise or 0.0)
    if low > bar:
        return "slower"
    if high < -bar:
        return "faster"
    return "same"


def _not_comparable(base: Row | None, new: Row | None) -> str | None:
    if base is None or new is None:
        return "missing in BASE" if base is None else "missing in NEW"
    failed = [
        _status(side, row) for side, row in (("BASE", base), ("NEW", new)) if row["status"] != "ok"
    ]
    return "; ".join(failed + incomparable_reasons(base, new)) or None


def _status(side: str, row: Row) -> str:
    kind = f" ({row['failure_kind']})" if row.get("failure_kind") else ""
    reason = f": {row['reason']}" if row.get("reason") else ""
    return f"{side} {row['status']}{kind}{reason}"


def few_samples(fewest: int) -> bool:
    """Some samples, but fewer than an interval needs (MIN_SAMPLES per run): the summary decides,
    and a change on a few samples is not called a regression (or a gain), only "same"."""
    return 0 < fewest < MIN_SAMPLES


def _change(
    base: Row,
    new: Row,
    fewest: int,
    confidence: float,
    rng: Callable[[], np.random.Generator],
    interval: Change | None,
) -> tuple[Change | None, list[str]]:
    """The change and the notes it comes with; None (and why) when there is nothing to compare.
    ``fewest``: the samples of the side that kept fewer."""
    if interval is not None:  # computed together for the cells that pass the same test
        return interval, []
    base_samples, new_samples = base.get("samples_ms") or [], new.get("samples_ms") or []
    if _has_interval(base, new):
        processes = (base.get("process_samples") or (), new.get("process_samples") or ())
        change = median_change(base_samples, new_samples, confidence, rng(), processes=processes)
        return change, []
    both_medians = None not in (base.get("latency_median_ms"), new.get("latency_median_ms"))
    stat = "median" if both_medians else "mean"
    base_ms, new_ms = base.get(f"latency_{stat}_ms"), new.get(f"latency_{stat}_ms")
    if base_ms is None or new_ms is None or base_ms <= 0:
        return None, [f"no latency {stat} to compare"]
    change = summary_change(base_ms, new_ms, base.get("latency_std_ms"), new.get("latency_std_ms"))
    spread = "no std either" if change.noise is None else f"spread ±{change.noise:.1%}"
    if few_samples(fewest):
        return change, [
            f"not enough samples: {fewest} (an interval needs {MIN_SAMPLES} per run; rerun "
            f"with --runs {MIN_SAMPLES} or more)"
        ]
    return change, [f"no samples: no confidence interval ({stat}; {spread})"]


def _parity_broken(base: Row | None, new: Row | None) -> bool:
    if base is None or new is None or base["status"] != "ok" or base.get("parity_ok") is False:
        return False
    return new.get("failure_kind") == "parity" or new.get("parity_ok") is False


def _get(row: Row | None, column: str) -> Any:
    return None if row is None else row.get(column)


def _rng(seed: int, key: Sequence[object]) -> np.random.Generator:
    cell = zlib.crc32("\0".join(map(str, key)).encode())
    return np.random.default_rng([seed, cell])
