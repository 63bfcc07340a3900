"""The circular block bootstrap's blocks (``farm.compare.stats`` says why this method): how
long a block is, where the blocks of each resample start, and the medians of the resamples they
make, counted rather than sorted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np

COUNTS = (np.int8, np.int16)  # a resample of n samples holds each at most n times
# Counts (resamples x (samples + block length)) counted in one go: one side of 50 samples.
# Larger chunks save numpy calls but not time: on 2,880 cells, chunks of three sides and
# batches of 16 or 64 cells made glibc give memory back and fault it in again, 400 k page
# faults and 1.3 s of system time against 65 k and 0.3 s (measured with /usr/bin/time).
CHUNK_COUNTS = 120_000
BOX_SHIFTS = 8  # longer blocks: the box filter as a difference of running sums


def by_size(series: Sequence[np.ndarray]) -> list[list[int]]:
    """The indices of the series, grouped by their length."""
    groups: dict[int, list[int]] = {}
    for index, samples in enumerate(series):
        groups.setdefault(len(samples), []).append(index)
    return list(groups.values())


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
    for indices in by_size(series):
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

    The same resamples as ``np.median(stats._block_resamples(...), axis=1)`` (the same starts
    from the same draw) and the same medians, without building them: a resample is known by
    how often it holds each sample (`_coverage`), so its median is the sample where the
    running count in sorted order passes the middle. Sorting 2,000 rows of 50 took 3 ms a
    cell side, 87 % of `farm compare` over 2,880 cells; counting takes a tenth of that."""
    return counted_medians([draw(samples, resamples, rng)])[0]


@dataclass(frozen=True)
class Draw:
    """One side's block starts (a row per resample), drawn before any median is counted."""

    samples: np.ndarray
    starts: np.ndarray
    length: int

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.samples), self.length, *self.starts.shape)

    def resampled(self) -> np.ndarray:
        """The resamples themselves, one per row (``gathered``)."""
        return gathered(self.samples, self.starts, self.length)


def draw(
    samples: np.ndarray, resamples: int, rng: np.random.Generator, length: int | None = None
) -> Draw:
    n, length = len(samples), length or block_length(samples)
    return Draw(samples, block_starts(rng, n, resamples, length), length)


def counted_medians(draws: Sequence[Draw]) -> list[np.ndarray]:
    """The resampled medians of each draw; draws of one shape are counted together, in
    chunks of at most CHUNK_COUNTS counts."""
    medians: list[np.ndarray | None] = [None] * len(draws)
    shapes: dict[tuple[int, ...], list[int]] = {}
    for index, one in enumerate(draws):
        if np.isfinite(one.samples).all():
            shapes.setdefault(one.shape, []).append(index)
        else:  # np.median's NaN semantics, the slow way
            medians[index] = np.median(one.resampled(), axis=1)
    for (n, length, resamples, _), indices in shapes.items():
        step = max(1, CHUNK_COUNTS // ((n + length) * resamples))
        for first in range(0, len(indices), step):
            chunk = indices[first : first + step]
            samples = np.stack([draws[i].samples for i in chunk])
            starts = np.stack([draws[i].starts for i in chunk])
            for index, row in zip(chunk, _medians_by_count(samples, starts, length), strict=True):
                medians[index] = row
    assert all(row is not None for row in medians), "a draw was left uncounted"
    return cast(list[np.ndarray], medians)


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


def block_starts(rng: np.random.Generator, n: int, resamples: int, length: int) -> np.ndarray:
    """Where each block of each resample starts: enough blocks of `length` to hold n samples.
    Drawn as int16 (n is at most stats.MAX_SAMPLES): a third of the time of int64 draws, which were
    a quarter of comparing 2,880 cells."""
    return rng.integers(0, n, size=(resamples, -(-n // length)), dtype=np.int16)


def _coverage(starts: np.ndarray, n: int, length: int) -> np.ndarray:
    """How many times each sample (row) is in each resample (column): blocks of ``length``
    from each start, wrapping around the end, the last block cut so a resample holds n."""
    resamples, blocks = starts.shape
    columns = np.arange(resamples)
    # How many blocks start at each sample; a sample is then in every block that starts at
    # most length-1 samples before it (a box filter, wrapping round), and the last block's
    # samples past its cut are taken off again. Two bincounts of the starts and the ends
    # took four times as long: the output, not the input, is what costs.
    flat = starts.astype(np.intp) * resamples + columns[:, None]  # int16 * 2,000 overflows
    begun = np.bincount(flat.ravel(), minlength=n * resamples)
    begun = begun.reshape(n, resamples).astype(count_type(n))
    cover = _boxed(begun, length)
    cut = n - (blocks - 1) * length
    if cut < length:  # flat indices: numpy's 2-D fancy indexing took five times as long
        past = (starts[:, -1] + np.arange(cut, length)[:, None]) % n
        cover.reshape(-1)[past * resamples + columns] -= 1  # one per (row, column): no add.at
    return cover


def count_type(n: int) -> type[np.signedinteger]:
    """The narrowest integer that holds a count of up to `n` (a sample's count in a resample of
    n, a running sum over n ranks): int8 for the usual 50 samples halved the memory that
    counting walks through, 0.8 s of comparing 2,880 cells."""
    return next(t for t in COUNTS if n <= np.iinfo(t).max)


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
    """How many ranks hold at most ``count`` samples: summed as `count_type`, faster
    than np.count_nonzero's int64 on a 50 x 2,000 array."""
    return (running <= count).sum(axis=0, dtype=count_type(len(running)))


def _running_sum(rows: np.ndarray) -> np.ndarray:
    """``np.cumsum(rows, axis=0)``, in place: row by row, which is 4x faster for these shapes
    (50 rows of 2,000 resamples; numpy's cumsum walks down the columns one at a time)."""
    for i in range(1, len(rows)):
        np.add(rows[i], rows[i - 1], out=rows[i])
    return rows


def gathered(samples: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """The resamples themselves: the block at each start, one resample per row of ``starts``."""
    n, (resamples, blocks) = len(samples), starts.shape
    wrapped = np.concatenate([samples, samples[: length - 1]])
    windows = np.lib.stride_tricks.sliding_window_view(wrapped, length)  # windows[i] = block at i
    return windows[starts].reshape(resamples, blocks * length)[:, :n]
