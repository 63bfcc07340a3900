"""What the compare view reads from a `farm.compare.Comparison`, as Protocols: the dashboard
and `farm.compare` are siblings in one layer (see the import-linter contract), so the job
passes the comparison in and the dashboard relies on its shape, not on its module."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class ComparedCell(Protocol):
    """One cell of the baseline against the same cell of this run (`CellComparison`)."""

    @property
    def device(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def delegate(self) -> str: ...
    @property
    def threads(self) -> int: ...
    @property
    def verdict(self) -> str: ...  # faster | slower | same | not comparable
    @property
    def reason(self) -> str | None: ...
    @property
    def base_median_ms(self) -> float | None: ...
    @property
    def new_median_ms(self) -> float | None: ...
    @property
    def change(self) -> float | None: ...  # new / base - 1
    @property
    def ci_low(self) -> float | None: ...
    @property
    def ci_high(self) -> float | None: ...
    @property
    def parity_broken(self) -> bool: ...
    @property
    def infra_failure(self) -> bool: ...


class CellComparisons(Protocol):
    """Every compared cell and the settings the verdicts were made under (`Comparison`)."""

    @property
    def rows(self) -> Sequence[ComparedCell]: ...
    @property
    def threshold(self) -> float: ...
    @property
    def confidence(self) -> float: ...
