"""The change in median latency between two cells, with a confidence interval.

Method: a percentile interval for the ratio of medians, median(NEW) / median(BASE), from a
*circular block bootstrap* of each side's per-iteration samples (Politis & Romano 1992).

Why this and not Mann-Whitney:
- The gate asks "is NEW more than 5 % slower, and are we sure?" That needs an interval for the
  size of the change on a relative scale. Mann-Whitney answers "do the distributions differ at
  all?" with a p-value; its Hodges-Lehmann interval is for a shift in ms under a pure-shift model,
  which does not hold when a slowdown also stretches the tail.
- Latency samples are long-tailed (preemption, page faults, a GC: max/median of 3-4x is common
  on the local host). The median ignores the tail; a mean or a t-interval would not.
- Consecutive iterations are autocorrelated (caches, DVFS, thermal drift on phones). Mann-Whitney
  and the plain bootstrap both assume independent samples and give intervals that are too narrow
  for such data, which is what makes A/A runs look "significant". Resampling blocks of
  consecutive iterations keeps that dependence; the block length grows with how far the sample
  autocorrelation reaches, so a run whose latency drifts gets a wide interval instead of a
  confident verdict.

Assumptions: within one run the samples are a stationary series once the warmup is dropped (the
runner drops it), or drift slowly enough for blocks of up to n/4 iterations to capture it; the
two runs are independent. What moves a whole cell at once is not in its samples: on a 2-CPU test
VM shared with other jobs, the medians of A/A runs differed by up to 4 % with intervals of
±0.1-1 %, and by 20-40 % when another process competed for the CPU during the whole cell. The
practical threshold (5 % by default) absorbs the first; only a quiet device, or cells repeated
in separate processes, guards against the second. Cells that last longer (``--min-seconds``)
let a passing burst show up inside the samples, where the block bootstrap sees it as noise.

Cost: at most ``RESAMPLES`` resamples, at most ``MAX_SAMPLES`` samples per side (longer series
are thinned evenly, which keeps their order), vectorised numpy: a few ms per cell.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from farm.compare.blocks import (
    block_lengths,
    bootstrap_medians,
    by_size,
    counted_medians,
    draw,
)

RESAMPLES = 2000
MAX_SAMPLES = 1000
BATCH_CELLS = 32  # see blocks.CHUNK_COUNTS
MIN_SAMPLES = 20  # fewer than this per side: no interval, the summary fallback decides
TWO_LEVEL = "two-level bootstrap of the median (processes, then blocks)"


@dataclass(frozen=True)
class Change:
    """NEW relative to BASE: ``change`` = new/base - 1, with its interval on the same scale.

    ``ci_low``/``ci_high`` are None when there were no samples to resample; ``noise`` is then the
    runs' combined spread relative to BASE (None when they reported no std).
    """

    base_ms: float
    new_ms: float
    change: float
    ci_low: float | None = None
    ci_high: float | None = None
    noise: float | None = None
    method: str = "block bootstrap of the median"


def median_change(
    base_ms: Sequence[float],
    new_ms: Sequence[float],
    confidence: float,
    rng: np.random.Generator,
    resamples: int = RESAMPLES,
    processes: tuple[Sequence[int], Sequence[int]] = ((), ()),
) -> Change:
    """Ratio of medians with a percentile bootstrap interval (both sides need samples).

    ``processes`` gives, per side, the samples of each runner process in order (a cell run
    with ``--repeats``). A side measured in two or more processes is resampled on two levels:
    processes with replacement, then blocks within each; a process's own level (where its code
    and tensors landed, what else the host was doing meanwhile) then widens the interval, as
    noise from the run itself, instead of passing for a change."""
    base_parts, new_parts = _split(base_ms, processes[0]), _split(new_ms, processes[1])
    if not (base_parts or new_parts):
        return median_changes([(base_ms, new_ms, rng)], confidence, resamples)[0]
    base, new = _thinned(base_ms), _thinned(new_ms)
    base_medians = _resampled_medians(base, base_parts, resamples, rng)
    new_medians = _resampled_medians(new, new_parts, resamples, rng)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = new_medians / base_medians
    base_median, new_median = float(np.median(base)), float(np.median(new))
    change = _interval(base_median, new_median, *_bounds(ratios, confidence))
    return dataclasses.replace(change, method=TWO_LEVEL)


Cells = Sequence[tuple[Sequence[float], Sequence[float], np.random.Generator]]


def median_changes(cells: Cells, confidence: float, resamples: int = RESAMPLES) -> list[Change]:
    """``median_change`` of many cells (base samples, new samples, the cell's generator), none
    measured in several processes: each cell draws from its own generator as one cell alone
    does, so each gets the same numbers; the medians of the resamples are counted for cells of
    one shape at a time (the numpy calls per cell were most of comparing 2,880 cells), in
    batches of BATCH_CELLS cells: every cell's block starts at once were 1.2 GB for 2,880.

    Threads (numpy lets go of the GIL in its loops and in ``Generator.integers``) did not
    make a 2-core machine under the load of other builds any faster, only busier; nor did a
    second process (``farm.workers``) on a quiet one: the counting walks memory more than it
    computes, and two cores shared it. None."""
    return [
        change
        for first in range(0, len(cells), BATCH_CELLS)
        for change in _median_changes(cells[first : first + BATCH_CELLS], confidence, resamples)
    ]


def _median_changes(cells: Cells, confidence: float, resamples: int) -> list[Change]:
    sides = [_thinned(samples) for base, new, _ in cells for samples in (base, new)]
    rngs = [rng for _, _, rng in cells for _ in (0, 1)]  # base first, then new: a cell's order
    draws = [
        draw(samples, resamples, rng, length)
        for samples, rng, length in zip(sides, rngs, block_lengths(sides), strict=True)
    ]
    medians = counted_medians(draws)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.stack(
            [new / base for base, new in zip(medians[::2], medians[1::2], strict=True)]
        )
    alpha = 1.0 - confidence
    # Row by row, the same numbers as np.quantile of each cell's own ratios.
    lows, highs = np.quantile(ratios, [alpha / 2, 1 - alpha / 2], axis=1).tolist()
    points = _medians(sides)
    return [
        _interval(points[2 * i], points[2 * i + 1], lows[i], highs[i]) for i in range(len(cells))
    ]


def _bounds(ratios: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = 1.0 - confidence
    low, high = np.quantile(ratios, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _medians(series: list[np.ndarray]) -> list[float]:
    """np.median of each series, the series of one length together (the same numbers)."""
    medians = [0.0] * len(series)
    for indices in by_size(series):
        stacked = np.median(np.stack([series[i] for i in indices]), axis=1)
        for index, median in zip(indices, stacked.tolist(), strict=True):
            medians[index] = median
    return medians


def _interval(base_median: float, new_median: float, low: float, high: float) -> Change:
    """The change of the medians, with the bootstrap's bounds of the ratio."""
    return Change(base_median, new_median, new_median / base_median - 1, low - 1, high - 1)


def _resampled_medians(
    thinned: np.ndarray, parts: list[np.ndarray], resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """Bootstrap medians of one side: of its processes (``parts``) when it has several."""
    if not parts:
        return bootstrap_medians(thinned, resamples, rng)
    within = [_block_resamples(part, resamples, rng) for part in parts]
    picks = rng.integers(0, len(parts), size=(resamples, len(parts)))
    return np.array(
        [np.median(np.concatenate([within[p][r] for p in row])) for r, row in enumerate(picks)]
    )


def _split(samples_ms: Sequence[float], sizes: Sequence[int]) -> list[np.ndarray]:
    """The samples of each process (each thinned to its share of MAX_SAMPLES); [] unless the
    sizes account for every sample and there are at least two processes."""
    if len(sizes) < 2 or sum(sizes) != len(samples_ms) or min(sizes) < MIN_SAMPLES:
        return []
    samples = np.asarray(samples_ms, dtype=np.float64)
    bounds = np.cumsum([0, *sizes])
    share = MAX_SAMPLES // len(sizes)
    return [_thinned(samples[a:b], share) for a, b in itertools.pairwise(bounds)]


def summary_change(
    base_ms: float, new_ms: float, base_std_ms: float | None, new_std_ms: float | None
) -> Change:
    """For cells that kept only summary statistics (benchmark_model): no interval, the point
    change and, when both report a std, their combined spread as the noise to beat."""
    noise = None
    if base_std_ms is not None and new_std_ms is not None:
        noise = math.hypot(base_std_ms, new_std_ms) / base_ms
    return Change(base_ms, new_ms, new_ms / base_ms - 1, noise=noise, method="summary statistics")


def _block_resamples(samples: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``resamples`` circular-block resamples of ``samples``, one per row."""
    return draw(samples, resamples, rng).resampled()


def _thinned(samples_ms: Sequence[float] | np.ndarray, most: int = MAX_SAMPLES) -> np.ndarray:
    """At most ``most`` samples, evenly spaced in time (deterministic, order kept)."""
    samples = np.asarray(samples_ms, dtype=np.float64)
    if len(samples) <= most:
        return samples
    return samples[np.linspace(0, len(samples) - 1, most).round().astype(np.int64)]
