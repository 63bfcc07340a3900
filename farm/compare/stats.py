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

RESAMPLES = 2000
MAX_SAMPLES = 1000
COUNT = np.int16  # a resample holds each sample at most MAX_SAMPLES times
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
    base, new = _thinned(base_ms), _thinned(new_ms)
    base_parts, new_parts = _split(base_ms, processes[0]), _split(new_ms, processes[1])
    base_medians = _resampled_medians(base, base_parts, resamples, rng)
    new_medians = _resampled_medians(new, new_parts, resamples, rng)
    alpha = 1.0 - confidence
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = new_medians / base_medians
    low, high = np.quantile(ratios, [alpha / 2, 1 - alpha / 2])
    base_median, new_median = float(np.median(base)), float(np.median(new))
    change = Change(
        base_median, new_median, new_median / base_median - 1, float(low) - 1, float(high) - 1
    )
    if base_parts or new_parts:
        return dataclasses.replace(change, method=TWO_LEVEL)
    return change


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


def block_length(samples: np.ndarray) -> int:
    """Block length for the bootstrap: n^(1/3), or twice the reach of the autocorrelation.

    The reach is the first lag after which K consecutive sample autocorrelations are all inside
    the white-noise band 2*sqrt(log10(n)/n) (the empirical rule of Politis & White 2004). A
    series that never gets there (drift) gets blocks of n/4, so four blocks per resample.
    """
    n = len(samples)
    shortest, longest = math.ceil(n ** (1 / 3)), max(1, n // 4)
    acf = _autocorrelation(samples)
    if acf is None:
        return min(shortest, longest)
    band, window = 2 * math.sqrt(math.log10(n) / n), max(5, math.ceil(math.sqrt(math.log10(n))))
    quiet = np.abs(acf[1:longest]) < band
    if len(quiet) < window:
        return min(shortest, longest)
    runs = np.lib.stride_tricks.sliding_window_view(quiet, window).all(axis=1)
    reach = int(np.argmax(runs)) if runs.any() else longest
    return int(min(max(shortest, 2 * reach), longest))


def _autocorrelation(samples: np.ndarray) -> np.ndarray | None:
    """Sample autocorrelation at every lag (FFT); None for a constant series."""
    centred = samples - samples.mean()
    power = float(centred @ centred)
    if power == 0.0:
        return None
    spectrum = np.fft.rfft(centred, 2 * len(samples))
    return np.fft.irfft(spectrum * np.conj(spectrum))[: len(samples)] / power


def bootstrap_medians(samples: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Medians of ``resamples`` circular-block resamples, all drawn at once.

    The same resamples as ``np.median(_block_resamples(...), axis=1)`` (the same block starts
    from the same draw) and the same medians, without building them: a resample is known by
    how often it holds each sample (`_coverage`), so its median is the sample where the
    running count in sorted order passes the middle. Sorting 2,000 rows of 50 took 3 ms a
    cell side, 87 % of `farm compare` over 2,880 cells; counting takes a tenth of that."""
    n, length = len(samples), block_length(samples)
    starts = rng.integers(0, n, size=(resamples, -(-n // length)))
    if not np.isfinite(samples).all():  # np.median's NaN semantics, the slow way
        return np.median(_gathered(samples, starts, length), axis=1)
    order = np.argsort(samples, kind="stable")
    running = _running_sum(_coverage(starts, n, length)[order])  # (rank, resample)
    ordered = samples[order]
    # The k-th smallest (0-based) is at the first rank whose running count exceeds k.
    low = ordered[np.count_nonzero(running <= (n - 1) // 2, axis=0)]
    if n % 2:
        return low
    high = ordered[np.count_nonzero(running <= n // 2, axis=0)]
    return (low + high) / 2  # as np.median: the mean of the two middle values


def _coverage(starts: np.ndarray, n: int, length: int) -> np.ndarray:
    """How many times each sample (row) is in each resample (column): blocks of ``length``
    from each start, wrapping around the end, the last block cut so a resample holds n."""
    resamples, blocks = starts.shape
    ends = starts + length
    ends[:, -1] = starts[:, -1] + n - (blocks - 1) * length
    columns = np.arange(resamples)
    size = (n + length) * resamples
    # +1 where a block starts, -1 where it stops; a running sum down the rows counts cover.
    steps = np.bincount((starts * resamples + columns[:, None]).ravel(), minlength=size)
    steps -= np.bincount((ends * resamples + columns[:, None]).ravel(), minlength=size)
    cover = _running_sum(steps.reshape(n + length, resamples).astype(COUNT))
    cover[: length - 1] += cover[n : n + length - 1]  # the part of a block past the end wraps
    return cover[:n]


def _running_sum(rows: np.ndarray) -> np.ndarray:
    """``np.cumsum(rows, axis=0)``, in place: row by row, which is 4x faster for these shapes
    (50 rows of 2,000 resamples; numpy's cumsum walks down the columns one at a time)."""
    for i in range(1, len(rows)):
        np.add(rows[i], rows[i - 1], out=rows[i])
    return rows


def _block_resamples(samples: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``resamples`` circular-block resamples of ``samples``, one per row."""
    n, length = len(samples), block_length(samples)
    starts = rng.integers(0, n, size=(resamples, -(-n // length)))
    return _gathered(samples, starts, length)


def _gathered(samples: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """The resamples themselves: the block at each start, one resample per row of ``starts``."""
    n, (resamples, blocks) = len(samples), starts.shape
    wrapped = np.concatenate([samples, samples[: length - 1]])
    windows = np.lib.stride_tricks.sliding_window_view(wrapped, length)  # windows[i] = block at i
    return windows[starts].reshape(resamples, blocks * length)[:, :n]


def _thinned(samples_ms: Sequence[float] | np.ndarray, most: int = MAX_SAMPLES) -> np.ndarray:
    """At most ``most`` samples, evenly spaced in time (deterministic, order kept)."""
    samples = np.asarray(samples_ms, dtype=np.float64)
    if len(samples) <= most:
        return samples
    return samples[np.linspace(0, len(samples) - 1, most).round().astype(np.int64)]
