"""What comparing two result sets found: one record per cell, and the exit code of the whole.

Exit codes (``Comparison.exit_code``, defined in farm.errors), the most serious one wins:
4 > 3 > 5 > 6 > 0.

    4  EXIT_PARITY_BROKEN   a cell that was right in BASE gives a wrong answer in NEW
    3  EXIT_REGRESSION      a cell is slower beyond the threshold, and statistically so
    5  EXIT_INFRA_ONLY      nothing of the above, but some NEW cells failed for infra/timeout
                            reasons, so the comparison is incomplete
    6  EXIT_NOTHING_CHECKED no cell was measured in both runs: nothing was compared
    0  EXIT_OK              no regression

A wrong answer outranks a slowdown (a fast wrong model is worth nothing); a measured slowdown
outranks missing measurements (it is a finding, infra trouble is only a gap).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from farm.errors import (
    EXIT_INFRA_ONLY,
    EXIT_NOTHING_CHECKED,
    EXIT_OK,
    EXIT_PARITY_BROKEN,
    EXIT_REGRESSION,
)

Verdict = Literal["faster", "slower", "same", "not comparable"]
VERDICTS: tuple[Verdict, ...] = ("slower", "faster", "same", "not comparable")

EXIT_MEANING = {
    EXIT_OK: "no regression",
    EXIT_REGRESSION: "regression",
    EXIT_PARITY_BROKEN: "parity newly broken",
    EXIT_INFRA_ONLY: "infra failures in NEW",
    EXIT_NOTHING_CHECKED: "nothing compared, no cell was measured in both runs",
}
COMPARED: tuple[Verdict, ...] = ("slower", "faster", "same")


@dataclass(frozen=True)
class CellComparison:
    """One cell of BASE against the same cell of NEW.

    ``change``, ``ci_low`` and ``ci_high`` are relative (0.10 = 10 % slower): new/base - 1 for
    the median (the mean for cells that kept neither samples nor a median). ``reason`` says why a
    cell is not comparable, or what a verdict rests on when it is not a confidence interval.
    """

    device: str
    model: str
    delegate: str
    threads: int
    verdict: Verdict
    reason: str | None = None
    base_median_ms: float | None = None
    new_median_ms: float | None = None
    change: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n_base: int = 0
    n_new: int = 0
    method: str | None = None
    parity_broken: bool = False  # right in BASE, wrong (failure_kind parity) in NEW
    parity_class: str | None = None  # how NEW's parity failed (farm.parity.PARITY_CLASSES)
    infra_failure: bool = False  # NEW failed as infra or timeout

    @property
    def cell_id(self) -> str:
        return f"{self.device}-{self.model}-{self.delegate}-t{self.threads}"


@dataclass(frozen=True)
class Comparison:
    """Every cell of BASE and NEW, with the settings the verdicts were made under."""

    rows: tuple[CellComparison, ...]
    threshold: float = 0.05
    confidence: float = 0.95
    seed: int = 0

    @property
    def exit_code(self) -> int:
        if any(row.parity_broken for row in self.rows):
            return EXIT_PARITY_BROKEN
        if self.regressions:
            return EXIT_REGRESSION
        if any(row.infra_failure for row in self.rows):
            return EXIT_INFRA_ONLY
        if not any(row.verdict in COMPARED for row in self.rows):
            return EXIT_NOTHING_CHECKED
        return EXIT_OK

    @property
    def regressions(self) -> tuple[CellComparison, ...]:
        return tuple(row for row in self.rows if row.verdict == "slower")

    def counts(self) -> dict[str, int]:
        """How many cells got each verdict (every verdict present, zero included)."""
        return {verdict: sum(row.verdict == verdict for row in self.rows) for verdict in VERDICTS}

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "confidence": self.confidence,
            "seed": self.seed,
            "exit_code": self.exit_code,
            "counts": self.counts(),
            "rows": [dataclasses.asdict(row) for row in self.rows],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Comparison:
        rows = tuple(CellComparison(**row) for row in data["rows"])
        return cls(rows, data["threshold"], data["confidence"], data["seed"])
