"""One farm run per pytest session: the plan (made at collection) and its results (run once,
on first use, by the farm's own orchestrator), and what the fixtures hand to users."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from farm.errors import ConfigError, FarmError
from farm.spec import Cell, CellKey, CellResult, Device, Model

if TYPE_CHECKING:
    import pandas as pd

    from farm.job import JobOutcome
    from farm.orchestrator import RunPlan, RunRequest


@dataclass(frozen=True)
class FarmLab:
    """The ``farm_lab`` fixture: the lab, the models and the plan this session runs."""

    devices: tuple[Device, ...]
    models: tuple[Model, ...]
    plan: RunPlan
    cells: Mapping[str, Cell]  # every cell by id, skipped ones included

    @property
    def run_dir(self) -> Path:
        return self.plan.run_dir


class FarmResults(Mapping[str, CellResult]):
    """The ``farm_result`` fixture: each cell's CellResult by cell id; call it with
    ``(device, model, delegate, threads=1)`` for one cell, or take ``.frame`` for pandas."""

    def __init__(self, outcome: JobOutcome) -> None:
        self.outcome = outcome
        self._by_id = {result.cell_id: result for result in outcome.results}

    def __getitem__(self, cell_id: str) -> CellResult:
        return self._by_id[cell_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def __call__(self, device: str, model: str, delegate: str, threads: int = 1) -> CellResult:
        return self[CellKey(device, model, delegate, threads).cell_id]

    @property
    def frame(self) -> pd.DataFrame:
        """One row per cell, typed like results.parquet."""
        from farm.store import results_frame

        return results_frame(self.outcome.results)

    @property
    def run_dir(self) -> Path:
        return self.outcome.plan.run_dir


@dataclass
class FarmSession:
    """What ``--farm-*`` asked for; planned once at collection and run at most once."""

    request: RunRequest
    benchmark_local: bool = False  # time local cpu/xnnpack cells in-process (pytest-benchmark)
    selected: set[str] = field(default_factory=set)  # cell ids of the items left after -k/-m
    in_process: set[str] = field(default_factory=set)  # cell ids pytest-benchmark times itself
    _plan: RunPlan | None = None
    _outcome: JobOutcome | None = None
    _error: FarmError | None = None
    _by_id: dict[str, CellResult] | None = None

    @property
    def plan(self) -> RunPlan:
        """The whole matrix; a ConfigError becomes a usage error naming the file and key."""
        if self._plan is None:
            from farm.orchestrator import plan_run

            try:
                self._plan = plan_run(self.request)
            except ConfigError as exc:
                raise pytest.UsageError(f"farm: {exc}") from exc
        return self._plan

    def lab(self) -> FarmLab:
        plan = self.plan
        listed = [*plan.cells, *(skip.cell for skip in plan.skips)]
        cells = sorted(listed, key=lambda cell: cell.key)
        return FarmLab(
            devices=tuple(dict.fromkeys(cell.device for cell in cells)),
            models=tuple(dict.fromkeys(cell.model for cell in cells)),
            plan=plan,
            cells={cell.cell_id: cell for cell in cells},
        )

    @property
    def outcome(self) -> JobOutcome | None:
        return self._outcome

    def run(self) -> JobOutcome:
        """The run, started on first use: every selected cell in one go (devices in parallel),
        never one farm run per item. A FarmError is kept and raised again for every caller."""
        if self._outcome is None and self._error is None:
            from farm.job import run_plan

            try:
                self._outcome = run_plan(_narrowed(self.plan, self.selected, self.in_process))
            except FarmError as exc:
                self._error = exc
        if self._error is not None:
            raise self._error
        assert self._outcome is not None
        if self._outcome.interrupted:
            raise KeyboardInterrupt  # the run kept what finished; pytest stops as on Ctrl-C
        return self._outcome

    def result(self, cell_id: str) -> CellResult | None:
        if self._by_id is None:  # every item asks: index the results once
            self._by_id = {r.cell_id: r for r in self.run().results}
        return self._by_id.get(cell_id)


def _narrowed(plan: RunPlan, selected: Collection[str], in_process: Collection[str]) -> RunPlan:
    """Only the selected cells (``pytest -k xnnpack``), none that pytest-benchmark times
    in-process; none selected (a test that only uses ``farm_result``) runs all the others."""
    if not selected and not in_process:
        return plan

    def runs(cell: Cell) -> bool:
        return cell.cell_id not in in_process and (not selected or cell.cell_id in selected)

    return dataclasses.replace(
        plan,
        cells=tuple(c for c in plan.cells if runs(c)),
        skips=tuple(s for s in plan.skips if runs(s.cell)),
    )
