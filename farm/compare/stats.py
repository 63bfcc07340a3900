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
# Counts (resamples x (samples + block length)) counted in one go: one side of 50 samples.
# Larger chunks save numpy calls but not time: on 2,880 cells, chunks of three sides and
# batches of 16 or 64 cells made glibc give memory back and fault it in again, 400 k page
# faults and 1.3 s of system time against 65 k and 0.3 s (measured with /usr/bin/time).
CHUNK_COUNTS = 120_000
BATCH_CELLS = 32  # see CHUNK_COUNTS
BOX_SHIFTS = 8  # longer blocks: the box filter as a difference of running sums
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
    make a 2-core machine under the load of other builds any faster, only busier: none."""
    return [
        change
        for first in range(0, len(cells), BATCH_CELLS)
        for change in _median_changes(cells[first : first + BATCH_CELLS], confidence, resamples)
    ]


def _median_changes(cells: Cells, confidence: float, resamples: int) -> list[Change]:
    sides = [_thinned(samples) for base, new, _ in cells for samples in (base, new)]
    rngs = [rng for _, _, rng in cells for _ in (0, 1)]  # base first, then new: a cell's order
    draws = [
        _draw(samples, resamples, rng, length)
        for samples, rng, length in zip(sides, rngs, block_lengths(sides), strict=True)
    ]
    medians = _counted_medians(draws)
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
    for indices in _by_size(series):
        stacked = np.median(np.stack([series[i] for i in indices]), axis=1)
        for index, median in zip(indices, stacked.tolist(), strict=True):
            medians[index] = median
    return medians


def _by_size(series: Sequence[np.ndarray]) -> list[list[int]]:
    """The indices of the series, grouped by their length."""
    by_size: dict[int, list[int]] = {}
    for index, samples in enumerate(series):
        by_size.setdefault(len(samples), []).append(index)
    return list(by_size.values())


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


def block_length(samples: np.ndarray) -> int:
    """Block length for the bootstrap: n^(1/3), or twice the reach of the autocorrelation.

    The reach is the first lag after which K consecutive sample autocorrelations are all inside
    the white-noise band 2*sqrt(log10(n)/n) (the empirical rule of Politis & White 2004). A
    series that never gets there (drift) gets blocks of n/4, so four blocks per resample.
    """
    return block_lengths([samples])[0]


def block_lengths(series: Sequence[np.ndarray]) -> list[int]:
    """``block_length`` of each series; the series of one length are looked at together."""
    lengths = [0] * len(series)
    for indices in _by_size(series):
        group = [series[i] for i in indices]
        for index, length in zip(indices, _lengths_of(len(group[0]), group), strict=True):
            lengths[index] = length
    return lengths


def _lengths_of(n: int, series: list[np.ndarray]) -> list[int]:
    shortest, longest = math.ceil(n ** (1 / 3)), max(1, n // 4)
    fallback = min(shortest, longest)
    # One FFT per series: a batched FFT rounds differently, and a length must not change.
    acfs = [_autocorrelation(samples) for samples in series]
    band, window = 2 * math.sqrt(math.log10(n) / n), max(5, math.ceil(math.sqrt(math.log10(n))))
    if longest - 1 < window or all(acf is None for acf in acfs):
        return [fallback] * len(series)
    constant = np.zeros(longest - 1, dtype=bool)  # its length is the fallback anyway
    quiet = np.array([constant if acf is None else np.abs(acf[1:longest]) < band for acf in acfs])
    windows = np.lib.stride_tricks.sliding_window_view(quiet, window, axis=1)
    runs = np.asarray(windows.all(axis=2))
    reach = np.where(runs.any(axis=1), np.argmax(runs, axis=1), longest)
    lengths = np.minimum(np.maximum(shortest, 2 * reach), longest)
    return [
        fallback if acf is None else int(length) for acf, length in zip(acfs, lengths, strict=True)
    ]


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
    return _counted_medians([_draw(samples, resamples, rng)])[0]


@dataclass(frozen=True)
class _Draw:
    """One side's block starts (a row per resample), drawn before any median is counted."""

    samples: np.ndarray
    starts: np.ndarray
    length: int

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.samples), self.length, *self.starts.shape)


def _draw(
    samples: np.ndarray, resamples: int, rng: np.random.Generator, length: int | None = None
) -> _Draw:
    n, length = len(samples), length or block_length(samples)
    return _Draw(samples, rng.integers(0, n, size=(resamples, -(-n // length))), length)


def _counted_medians(draws: Sequence[_Draw]) -> list[np.ndarray]:
    """The resampled medians of each draw; draws of one shape are counted together, in
    chunks of at most CHUNK_COUNTS counts."""
    medians: list[np.ndarray | None] = [None] * len(draws)
    shapes: dict[tuple[int, ...], list[int]] = {}
    for index, draw in enumerate(draws):
        if np.isfinite(draw.samples).all():
            shapes.setdefault(draw.shape, []).append(index)
        else:  # np.median's NaN semantics, the slow way
            gathered = _gathered(draw.samples, draw.starts, draw.length)
            medians[index] = np.median(gathered, axis=1)
    for (n, length, resamples, _), indices in shapes.items():
        step = max(1, CHUNK_COUNTS // ((n + length) * resamples))
        for first in range(0, len(indices), step):
            chunk = indices[first : first + step]
            samples = np.stack([draws[i].samples for i in chunk])
            starts = np.stack([draws[i].starts for i in chunk])
            for index, row in zip(chunk, _medians_by_count(samples, starts, length), strict=True):
                medians[index] = row
    return [row for row in medians if row is not None]


def _medians_by_count(samples: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Medians of the resamples of several series of one length (rows of ``samples``), the
    block ``starts`` of series i in ``starts[i]``: one row of medians per series."""
    series, n = samples.shape
    _, resamples, blocks = starts.shape
    cover = _coverage(starts.reshape(series * resamples, blocks), n, length)
    order = np.argsort(samples, axis=1, kind="stable")  # (series, rank)
    each = np.arange(series)[:, None]  # plain indexing: np.take_along_axis cost 25 us a call
    # by_rank[k, i] = how often series i's k-th smallest sample is in each of its resamples
    by_rank = cover.reshape(n, series, resamples)[order.T, each[:, 0]]
    running = _running_sum(by_rank)
    ordered = samples[each, order]
    # The k-th smallest (0-based) is at the first rank whose running count exceeds k.
    low = ordered[each, _ranks_up_to(running, (n - 1) // 2)]
    if n % 2:
        return low
    high = ordered[each, _ranks_up_to(running, n // 2)]
    return (low + high) / 2  # as np.median: the mean of the two middle values


def _coverage(starts: np.ndarray, n: int, length: int) -> np.ndarray:
    """How many times each sample (row) is in each resample (column): blocks of ``length``
    from each start, wrapping around the end, the last block cut so a resample holds n."""
    resamples, blocks = starts.shape
    columns = np.arange(resamples)
    # How many blocks start at each sample; a sample is then in every block that starts at
    # most length-1 samples before it (a box filter, wrapping round), and the last block's
    # samples past its cut are taken off again. Two bincounts of the starts and the ends
    # took four times as long: the output, not the input, is what costs.
    begun = np.bincount((starts * resamples + columns[:, None]).ravel(), minlength=n * resamples)
    begun = begun.reshape(n, resamples).astype(COUNT)
    cover = _boxed(begun, length)
    cut = n - (blocks - 1) * length
    if cut < length:  # flat indices: numpy's 2-D fancy indexing took five times as long
        past = (starts[:, -1] + np.arange(cut, length)[:, None]) % n
        cover.reshape(-1)[past * resamples + columns] -= 1  # one per (row, column): no add.at
    return cover


def _boxed(begun: np.ndarray, length: int) -> np.ndarray:
    """``cover[i] = begun[i] + begun[i-1] + ... + begun[i-length+1]``, wrapping round."""
    if length <= BOX_SHIFTS:
        cover = begun.copy()
        for shift in range(1, length):
            cover[shift:] += begun[:-shift]
            cover[:shift] += begun[-shift:]
        return cover
    running = _running_sum(np.concatenate([begun[-length:], begun]))  # row i: begun[i-length]
    return running[length:] - running[: len(begun)]


def _ranks_up_to(running: np.ndarray, count: int) -> np.ndarray:
    """How many ranks hold at most ``count`` samples: summed as COUNT, three times faster
    than np.count_nonzero's int64 on a 50 x 2,000 array."""
    return (running <= count).sum(axis=0, dtype=COUNT)


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
