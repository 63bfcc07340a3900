"""Matrix cells as pytest items: the devices file is the collector, each cell an item whose
outcome is its result row (ok passes, failed fails with its kind and reason, skipped skips),
with the manifest's latency budget as one more assertion."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from farm.pytest_plugin.benchmark_item import BenchmarkCellItem
from farm.pytest_plugin.budget import budget_breach
from farm.pytest_plugin.in_process import why_not_in_process
from farm.pytest_plugin.session import FarmSession
from farm.spec import Cell, CellResult


class DevicesCollector(pytest.File):
    """devices.yaml as a collector: one item per cell of the planned matrix, skipped cells too,
    sorted by device, model, delegate, threads (the run itself keeps its shuffled order)."""

    farm: FarmSession

    @classmethod
    def for_session(cls, session: pytest.Session, farm: FarmSession) -> DevicesCollector:
        path = Path(farm.request.devices).resolve()
        # A devices file outside the rootdir still gets a readable id (../lab/devices.yaml).
        nodeid = Path(os.path.relpath(path, session.config.rootpath)).as_posix()
        node = cls.from_parent(session, path=path, nodeid=nodeid)
        node.farm = farm
        return node

    def collect(self) -> Iterable[CellItem | BenchmarkCellItem]:
        text = self.path.read_text(encoding="utf-8").splitlines()
        plan = self.farm.plan
        skips = {skip.cell.cell_id: skip.reason for skip in plan.skips}
        for cell in self.farm.lab().cells.values():
            line = _device_line(text, cell.device.name)
            if self.farm.benchmark_local and why_not_in_process(cell) is None:
                self.farm.in_process.add(cell.cell_id)
                yield BenchmarkCellItem.from_parent(
                    self,
                    name=cell.cell_id,
                    cell=cell,
                    line=line,
                    settings=plan.settings,
                    skip_reason=skips.get(cell.cell_id),
                )
            else:
                yield CellItem.from_parent(self, name=cell.cell_id, cell=cell, line=line)


def _device_line(lines: list[str], device: str) -> int:
    """The 0-based line declaring ``device`` in devices.yaml, where reports point (0 if unfound)."""
    key = re.compile(rf"\s+['\"]?{re.escape(device)}['\"]?\s*:")
    return next((i for i, text in enumerate(lines) if key.match(text)), 0)


class CellItem(pytest.Item):
    """One cell; running it runs the whole matrix once (first item), then reads its row."""

    def __init__(self, *, cell: Cell, line: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cell, self.line = cell, line

    @property
    def farm(self) -> FarmSession:
        assert isinstance(self.parent, DevicesCollector)
        return self.parent.farm

    def runtest(self) -> None:
        result = self.farm.result(self.name)
        if result is None:
            pytest.fail("the farm run has no result for this cell", pytrace=False)
        self.user_properties.extend(_properties(result))
        check_cell(result, self.cell)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, self.line, f"farm cell {self.name}"


def check_cell(result: CellResult, cell: Cell) -> None:
    """Pass, fail or skip as the row says; an ok row must also keep within its budget."""
    if result.status == "skipped":
        pytest.skip(result.reason or "skipped")
    if result.status == "failed":
        pytest.fail(f"cell failed ({result.failure_kind}): {result.reason}", pytrace=False)
    over = budget_breach(cell, result.latency_median_ms, _spread(result))
    if over:
        pytest.fail(over, pytrace=False)


def _spread(result: CellResult) -> str:
    p5, p95, n = result.latency_p5_ms, result.latency_p95_ms, len(result.samples_ms)
    return (
        f"p5–p95 {p5:.4g}–{p95:.4g} ms, n={n}" if p5 is not None and p95 is not None else f"n={n}"
    )


def _properties(result: CellResult) -> list[tuple[str, object]]:
    """Headline numbers for the JUnit XML's <properties> (missing ones are left out)."""
    names = ("latency_median_ms", "latency_p5_ms", "latency_p95_ms", "runtime", "failure_kind")
    values = [(name, getattr(result, name)) for name in names]
    return [(name, value) for name, value in values if value is not None]
