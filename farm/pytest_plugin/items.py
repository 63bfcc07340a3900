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

from farm.pytest_plugin.budget import budget_rule
from farm.pytest_plugin.session import FarmSession
from farm.spec import Cell, CellResult


class DevicesFile(pytest.File):
    """devices.yaml as a collector: one item per cell of the planned matrix, skipped cells too,
    sorted by device, model, delegate, threads (the run itself keeps its shuffled order)."""

    farm: FarmSession

    @classmethod
    def for_session(cls, session: pytest.Session, farm: FarmSession) -> DevicesFile:
        path = Path(farm.request.devices).resolve()
        # A devices file outside the rootdir still gets a readable id (../lab/devices.yaml).
        nodeid = Path(os.path.relpath(path, session.config.rootpath)).as_posix()
        node = cls.from_parent(session, path=path, nodeid=nodeid)
        node.farm = farm
        return node

    def collect(self) -> Iterable[CellItem]:
        text = self.path.read_text(encoding="utf-8").splitlines()
        for cell in self.farm.lab().cells.values():
            line = _device_line(text, cell.device.name)
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
        assert isinstance(self.parent, DevicesFile)
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
    over = over_budget(result, cell)
    if over:
        pytest.fail(over, pytrace=False)


def over_budget(result: CellResult, cell: Cell) -> str | None:
    """Why the cell's median latency breaks the model's budget_ms, or None when it keeps it."""
    rule = budget_rule(cell.model.budget_ms, cell.device.name, cell.delegate)
    if rule is None:
        return None
    key, budget_ms = rule
    where = f"budget_ms {budget_ms:g} ms ({cell.model.name}: {key})"
    median = result.latency_median_ms
    if median is None:
        return f"no median latency measured to hold against {where}"
    if median <= budget_ms:
        return None
    spread = f"p5–p95 {result.latency_p5_ms:.4g}–{result.latency_p95_ms:.4g} ms"
    n = len(result.samples_ms)
    return f"over budget: median {median:.4g} ms ({spread}, n={n}) exceeds {where}"


def _properties(result: CellResult) -> list[tuple[str, object]]:
    """Headline numbers for the JUnit XML's <properties> (missing ones are left out)."""
    names = ("latency_median_ms", "latency_p5_ms", "latency_p95_ms", "runtime", "failure_kind")
    values = [(name, getattr(result, name)) for name in names]
    return [(name, value) for name, value in values if value is not None]
