"""The Pareto front of a set of points where smaller is better on every axis (for the
quantization view: model size, median latency and error against fp32).

The front is one sweep in O(n log n) (Kung, Luccio and Preparata's maxima algorithm, "On
finding the maxima of a set of vectors", JACM 1975): in lexicographic order every point that
dominates another comes before it, so a point is beaten when a point already seen is no worse
on the other two axes, which a Fenwick tree of prefix minima answers in O(log n). Comparing
every pair took 1.2 M comparisons for a 27 k-cell run (47 points a group)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Point = Sequence[float]
MAX_AXES = 3


def dominates(a: Point, b: Point) -> bool:
    """`a` is at least as good as `b` on every axis and strictly better on one."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True)
    )


def pareto_front(points: Sequence[Point]) -> list[bool]:
    """For each point, whether no other point dominates it. Equal points do not dominate each
    other, so both stay on the front; a single point is its own front."""
    return front_mask(as_array(points)).tolist()


def dominated_by(points: Sequence[Point]) -> list[list[int]]:
    """For each point, the indices of the points that dominate it (empty: on the front); only
    the points off the front are compared with the others."""
    array = as_array(points)
    winners: list[list[int]] = [[] for _ in range(len(array))]
    for i in np.flatnonzero(~front_mask(array)):
        beaten = (array <= array[i]).all(axis=1) & (array < array[i]).any(axis=1)
        winners[i] = np.flatnonzero(beaten).tolist()
    return winners


def as_array(points: Sequence[Point]) -> np.ndarray:
    """The points as an n × 3 float array (fewer axes padded with a constant axis)."""
    array = np.asarray(points, dtype=float).reshape(len(points), -1) if points else np.zeros((0, 0))
    if array.shape[1] > MAX_AXES:
        raise ValueError(f"a Pareto front of {array.shape[1]} axes: at most {MAX_AXES}")
    return np.pad(array, ((0, 0), (0, MAX_AXES - array.shape[1])))


def front_mask(array: np.ndarray) -> np.ndarray:
    """The sweep (see the module docstring) over an n × 3 array; equal points are looked up
    before any of them is added, so they never beat each other."""
    rows = array.tolist()
    order = np.lexsort(array.T[::-1]).tolist()
    ranks = (np.unique(array[:, 1], return_inverse=True)[1] + 1).tolist()
    tree = [math.inf] * (max(ranks, default=0) + 1)
    on_front = np.ones(len(rows), dtype=bool)
    start = 0
    while start < len(order):
        first, end = order[start], start + 1
        while end < len(order) and rows[order[end]] == rows[first]:
            end += 1
        on_front[order[start:end]] = prefix_min(tree, ranks[first]) > rows[first][2]
        add(tree, ranks[first], rows[first][2])
        start = end
    return on_front


def prefix_min(tree: list[float], rank: int) -> float:
    """The smallest value added at ranks 1 … `rank`."""
    found = math.inf
    while rank > 0:
        found, rank = min(found, tree[rank]), rank & (rank - 1)
    return found


def add(tree: list[float], rank: int, value: float) -> None:
    while rank < len(tree):
        tree[rank], rank = min(tree[rank], value), rank + (rank & -rank)
