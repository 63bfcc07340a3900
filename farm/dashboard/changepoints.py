"""Where a cell's latency stepped to a new level across runs: change points in the series of its
per-run medians, for the trends view.

Method: binary segmentation (Scott & Knott 1974) on log latency, then a confirmation pass.

1. Work on log(median), so a step is relative: 10 % slower is the same step at 0.7 ms and 70 ms.
2. Search: in a segment, take the split with the largest t = |Δ mean| / (σ · √(1/n₁ + 1/n₂))
   (the split that leaves the least squared error around the two means). Each side must hold
   at least ``min_size`` runs, so one odd run is never a level of its own. σ is the run-to-run
   noise from the differences of consecutive values (a robust MAD estimate: a step spoils one
   difference, which the median ignores), so an up-and-back-down step is not hidden by the
   levels a segment still mixes. The split stands if it is both
   - practically large: the two sides' geometric means differ by ``min_step`` or more (5 %,
     the regression gate's threshold), and
   - statistically clear: t beats the two-sided t quantile at ``alpha`` divided by the number
     of candidate splits (Bonferroni: we tried them all and kept the best).
   Repeat inside both sides until no split stands.
3. Confirm: re-estimate σ from the residuals around every level found (more efficient than the
   MAD, which on a short series can come out small by chance) and test each step against its
   neighbouring levels again with the same two rules, Bonferroni over every position in the
   series; drop the weakest failing step and repeat until all pass.

The reported ``before_ms`` and ``after_ms`` are medians of the per-run medians on either side.

Why not a dependency (ruptures, changepoint): the series are short (tens to hundreds of runs)
and the rules above fit on a page that a reviewer can check by hand.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import stdtrit

MIN_SIZE = 2  # runs on each side of a step
MIN_STEP = 0.05  # relative; a smaller step is not worth a mark, however clear
ALPHA = 0.01  # family-wise, over the candidate splits


@dataclass(frozen=True)
class ChangePoint:
    """The series moved to a new level at ``index`` (the first value of the new level).

    ``before_ms`` and ``after_ms`` are the medians of the values between this change point and
    its neighbours; ``change`` = after / before - 1 (0.10 = 10 % slower).
    """

    index: int
    before_ms: float
    after_ms: float
    change: float


def change_points(
    values_ms: Sequence[float] | np.ndarray,
    min_size: int = MIN_SIZE,
    min_step: float = MIN_STEP,
    alpha: float = ALPHA,
) -> list[ChangePoint]:
    """The change points of a series of positive values (per-run medians, oldest first)."""
    values = np.asarray(values_ms, dtype=float)
    log_values = np.log(values)
    rule = StepRule(min_size, min_step, alpha)
    found = rule.search(log_values, run_to_run_noise(log_values), 0, len(values))
    bounds = [0, *rule.confirmed(log_values, sorted(found)), len(values)]
    points = []
    for before, at, after in zip(bounds, bounds[1:], bounds[2:], strict=False):
        before_ms, after_ms = (
            float(np.median(values[before:at])),
            float(np.median(values[at:after])),
        )
        points.append(ChangePoint(at, before_ms, after_ms, after_ms / before_ms - 1))
    return points


def run_to_run_noise(log_values: np.ndarray) -> float:
    """σ of one value around its level: MAD / 0.6745 of the consecutive differences, over √2
    (a difference holds two values' noise)."""
    if len(log_values) < 2:
        return 0.0
    differences = np.diff(log_values)
    mad = np.median(np.abs(differences - np.median(differences)))
    return float(mad / 0.6745 / np.sqrt(2))


@dataclass(frozen=True)
class StepRule:
    """When a difference between two neighbouring levels counts as a step."""

    min_size: int
    min_step: float
    alpha: float

    def search(self, log_values: np.ndarray, noise: float, lo: int, hi: int) -> list[int]:
        """The indices where [lo, hi) splits, and recursively its parts."""
        segment = log_values[lo:hi]
        candidates = range(self.min_size, len(segment) - self.min_size + 1)
        if len(candidates) == 0:
            return []
        k = best_split(segment, candidates)
        degrees_of_freedom = len(log_values) - 1
        if not self.passes(segment[:k], segment[k:], noise, degrees_of_freedom, len(candidates)):
            return []
        return [
            *self.search(log_values, noise, lo, lo + k),
            lo + k,
            *self.search(log_values, noise, lo + k, hi),
        ]

    def confirmed(self, log_values: np.ndarray, splits: list[int]) -> list[int]:
        """`splits` less the ones that fail against their neighbouring levels, weakest first,
        with σ from the residuals around all levels."""
        candidates = len(log_values) - 2 * self.min_size + 1
        while splits:
            levels = np.split(log_values, splits)
            residual = sum(float(((level - level.mean()) ** 2).sum()) for level in levels)
            degrees_of_freedom = len(log_values) - len(levels)
            noise = float(np.sqrt(residual / degrees_of_freedom))
            pairs = list(itertools.pairwise(levels))
            failing = [
                (t_statistic(left, right, noise), split)
                for split, (left, right) in zip(splits, pairs, strict=True)
                if not self.passes(left, right, noise, degrees_of_freedom, candidates)
            ]
            if not failing:
                return splits
            splits = [split for split in splits if split != min(failing)[1]]
        return []

    def passes(
        self, left: np.ndarray, right: np.ndarray, noise: float, degrees_of_freedom: int, tries: int
    ) -> bool:
        """Large enough (geometric means `min_step` apart) and clear of the noise (t beyond
        the Bonferroni-corrected quantile for `tries` candidate splits)."""
        large = np.expm1(abs(right.mean() - left.mean())) >= self.min_step
        critical = stdtrit(degrees_of_freedom, 1 - self.alpha / (2 * tries))
        return bool(large and t_statistic(left, right, noise) > critical)


def best_split(segment: np.ndarray, candidates: range) -> int:
    """The split that leaves the least squared error: the largest |Δ mean| / √(1/n₁ + 1/n₂),
    the first of equals; every candidate at once from running sums (a year of nightlies of a
    2,880-cell lab made a million `t_statistic` calls, 29 s, one at a time)."""
    k = np.arange(candidates.start, candidates.stop)
    sums, n = np.cumsum(segment), len(segment)
    left_mean, right_mean = sums[k - 1] / k, (sums[-1] - sums[k - 1]) / (n - k)
    t = np.abs(right_mean - left_mean) / np.sqrt(1 / k + 1 / (n - k))
    return int(k[np.argmax(np.round(t, 9))])  # rounded: equal splits stay equal, first wins


def t_statistic(left: np.ndarray, right: np.ndarray, noise: float) -> float:
    """|Δ mean| in standard errors; infinite when the noise is 0 and the means differ."""
    difference = abs(right.mean() - left.mean())
    standard_error = noise * np.sqrt(1 / len(left) + 1 / len(right))
    if standard_error == 0:
        return float("inf") if difference > 0 else 0.0
    return float(difference / standard_error)
