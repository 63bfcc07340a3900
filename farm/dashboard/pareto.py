"""The Pareto front of a set of points where smaller is better on every axis (for the
quantization view: model size, median latency and error against fp32)."""

from __future__ import annotations

from collections.abc import Sequence

Point = Sequence[float]


def dominates(a: Point, b: Point) -> bool:
    """`a` is at least as good as `b` on every axis and strictly better on one."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True)
    )


def pareto_front(points: Sequence[Point]) -> list[bool]:
    """For each point, whether no other point dominates it. Equal points do not dominate each
    other, so both stay on the front; a single point is its own front."""
    return [not by for by in dominated_by(points)]


def dominated_by(points: Sequence[Point]) -> list[list[int]]:
    """For each point, the indices of the points that dominate it (empty: on the front)."""
    return [[j for j, other in enumerate(points) if dominates(other, point)] for point in points]
