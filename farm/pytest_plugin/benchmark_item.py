"""A local cell timed by pytest-benchmark in the pytest process (``--farm-benchmark-local``).

The item is a ``pytest.Function`` whose test requests pytest-benchmark's own ``benchmark``
fixture, so ``--benchmark-json``, ``--benchmark-autosave``, ``--benchmark-only`` and
``pytest-benchmark compare`` treat it like any benchmark test. It measures as the farm would:
``--farm-runs`` rounds of one invoke each after ``--farm-warmup`` untimed ones, and names the
benchmark as ``--farm-benchmark-json`` does (name: the cell id, group: the model, params:
device / model / delegate / threads), so in-process and device files line up in ``compare``.
"""

from __future__ import annotations

from typing import Any

import pytest

from farm.pytest_plugin.budget import budget_breach
from farm.pytest_plugin.in_process import InProcessInterpreter, open_interpreter
from farm.spec import Cell, RunSettings


def time_cell(benchmark: Any, request: pytest.FixtureRequest) -> None:
    """The test every BenchmarkCellItem runs; its arguments are the fixtures it gets."""
    item = request.node
    assert isinstance(item, BenchmarkCellItem)
    item.time_with(benchmark)


class BenchmarkCellItem(pytest.Function):
    """One local cell, timed by the ``benchmark`` fixture instead of the farm's runner."""

    def __init__(
        self,
        *,
        cell: Cell,
        settings: RunSettings,
        line: int = 0,
        skip_reason: str | None = None,  # why the plan skips this cell, if it does
        **kwargs: Any,
    ) -> None:
        super().__init__(callobj=time_cell, **kwargs)
        self.cell, self.settings, self.line, self.skip_reason = cell, settings, line, skip_reason

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, self.line, f"farm cell {self.name} (pytest-benchmark, in-process)"

    def time_with(self, benchmark: Any) -> None:
        if self.skip_reason:
            pytest.skip(self.skip_reason)
        cell = self.cell
        opened = open_interpreter(
            cell.model.path, cell.delegate, cell.threads, self.settings.planned_seed
        )
        label(benchmark, cell, opened, self.settings)
        benchmark.pedantic(
            opened.interpreter.invoke,
            rounds=self.settings.runs,
            warmup_rounds=self.settings.warmup,
            iterations=1,
        )
        if benchmark.stats is not None:  # None under --benchmark-disable: ran once, untimed
            self.check(benchmark.stats.stats, opened)

    def check(self, stats: Any, opened: InProcessInterpreter) -> None:
        """JUnit properties as a farm cell has them, then the manifest's budget_ms."""
        median_ms = stats.median * 1000.0
        self.user_properties.extend([("latency_median_ms", median_ms), ("runtime", opened.runtime)])
        q1_ms, q3_ms = stats.q1 * 1000.0, stats.q3 * 1000.0
        spread = f"q1–q3 {q1_ms:.4g}–{q3_ms:.4g} ms, n={stats.rounds}, pytest-benchmark"
        over = budget_breach(self.cell, median_ms, spread)
        if over:
            pytest.fail(over, pytrace=False)


def label(benchmark: Any, cell: Cell, opened: InProcessInterpreter, settings: RunSettings) -> None:
    """Group, params and extra_info as ``--farm-benchmark-json`` writes them for device cells;
    set before timing, because pytest-benchmark copies them when it starts measuring."""
    params = {
        "device": cell.device.name,
        "model": cell.model.name,
        "delegate": cell.delegate,
        "threads": cell.threads,
    }
    benchmark.group, benchmark.params, benchmark.param = cell.model.name, params, cell.cell_id
    benchmark.extra_info.update(
        model_sha256=cell.model.sha256,
        runtime=opened.runtime,
        runtime_version=opened.runtime_version,
        seed=settings.seed,
        in_process=True,
        **{key: opened.coverage[key] for key in ("nodes_delegated", "nodes_total", "partitions")},
    )
