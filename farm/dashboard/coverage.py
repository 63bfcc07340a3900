"""Delegation coverage per device: for each delegate cell, the share of the graph's nodes the
delegate took and the share left to TFLite's CPU kernels, with the node counts, the partition
count and the op types that fell back written on each bar."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from farm.dashboard.cells import BASELINE_DELEGATE, Record, in_model_order, records
from farm.dashboard.figure_json import styled
from farm.dashboard.markup import hint, notice, plot_text
from farm.dashboard.theme import CPU_NODES_COLOR, DELEGATED_COLOR, MUTED_INK
from farm.dashboard.units import format_share, is_missing
from farm.dashboard.view import FigureDict, RunData, Section, per_device

ANCHOR, TITLE = "coverage", "Delegation coverage"
HINT = (
    "Share of each graph's nodes the delegate took (blue) and left to TFLite's CPU kernels "
    "(orange), with the node counts, the partitions (each boundary between delegate and CPU "
    "costs a copy) and the op types left on the CPU. cpu cells run every node on the builtin "
    "kernels by design and are left out."
)
NOTHING = "No delegate cell ran (only cpu cells, or none finished ok): no coverage to show."
NOT_REPORTED = "coverage not reported"
SHOWN_OPS = 3  # on the bar's label; the hover lists them all


@dataclass(frozen=True)
class Coverage:
    """One cell's node counts; `fallback` is None when the runner did not name the ops."""

    delegated: int
    total: int
    partitions: int | None
    fallback: Mapping[str, int] | None

    @property
    def on_cpu(self) -> int:
        return self.total - self.delegated


def section(data: RunData) -> Section:
    """One bar chart per device over the delegate cells that ran."""
    cells = delegate_cells(data.cells)
    if cells.empty:
        return Section(ANCHOR, TITLE, (notice(NOTHING),))
    if cells["nodes_total"].isna().all():
        message = "No cell reported its delegation coverage: the coverage columns are empty."
        return Section(ANCHOR, TITLE, (notice(message),))
    return Section(ANCHOR, TITLE, (hint(HINT), *per_device(cells, coverage_figure)))


def delegate_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """Cells of a delegate other than cpu that ran: ok, or measured and then failed parity."""
    delegate = ~cells["delegate"].eq(BASELINE_DELEGATE).to_numpy(dtype=bool)
    ran = cells["status"].eq("ok").to_numpy(dtype=bool) | cells["nodes_total"].notna().to_numpy()
    return cells[delegate & ran]


def coverage_of(row: Record) -> Coverage | None:
    """The cell's counts, or None when it did not report them."""
    delegated, total = row["nodes_delegated"], row["nodes_total"]
    if is_missing(delegated) or is_missing(total) or int(total) <= 0:
        return None
    partitions = None if is_missing(row["partitions"]) else int(row["partitions"])
    return Coverage(int(delegated), int(total), partitions, fallback_ops(row["cpu_fallback_ops"]))


def fallback_ops(value: object) -> dict[str, int] | None:
    """`{"SOFTMAX": 1}` from the JSON column, most frequent op first; None if absent or bad."""
    try:
        ops = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return None
    if not isinstance(ops, dict) or not all(isinstance(n, int) for n in ops.values()):
        return None
    return dict(sorted(ops.items(), key=lambda op: (-op[1], op[0])))


def coverage_figure(cells: pd.DataFrame) -> FigureDict:
    """Stacked bars (delegated, on CPU) in % of the graph, each row's label written over its
    bar: the bar always spans the plot, so the label fits however narrow the page is."""
    rows = records(in_model_order(cells))
    found = [coverage_of(row) for row in rows]
    y = [[plot_text(r["model"]) for r in rows], [plot_text(r["column"]) for r in rows]]
    hovers = [hover_text(row, coverage) for row, coverage in zip(rows, found, strict=True)]
    delegated = [None if c is None else c.delegated / c.total for c in found]
    on_cpu = [None if c is None else c.on_cpu / c.total for c in found]
    traces = [
        share_bar("delegated", delegated, y, hovers, DELEGATED_COLOR),
        share_bar("on CPU", on_cpu, y, hovers, CPU_NODES_COLOR),
        labels(found, y),
    ]
    layout = {
        "barmode": "stack", "bargap": 0.25, "yaxis": {"autorange": "reversed"},
        "legend": {"traceorder": "normal"},
        "xaxis": {"range": [0, 1], "tickformat": ".0%", "title": {"text": "graph nodes"}},
    }  # fmt: skip
    figure = styled(traces, layout, height_px=110 + 28 * len(rows))
    figure["layout"]["margin"]["r"] = 30
    return figure


def share_bar(
    name: str, shares: list[float | None], y: list[list[str]], hovers: list[str], color: str
) -> dict[str, Any]:
    return {
        "type": "bar", "x": shares, "y": y, "name": name, "orientation": "h",
        "marker": {"color": color}, "customdata": hovers,
        "hovertemplate": "%{customdata}<extra></extra>",
    }  # fmt: skip


def labels(found: list[Coverage | None], y: list[list[str]]) -> dict[str, Any]:
    """`64 / 65 nodes · 1 partition · on CPU: SOFTMAX ×1` in white over each bar; a cell that
    did not report its coverage says so in its empty row."""
    return {
        "type": "scatter", "x": [0.005] * len(found), "y": y, "mode": "text",
        "textposition": "middle right",
        "text": [NOT_REPORTED if c is None else label(c) for c in found],
        "textfont": {"color": [MUTED_INK if c is None else "#ffffff" for c in found]},
        "cliponaxis": False, "showlegend": False, "hoverinfo": "skip",
    }  # fmt: skip


def label(coverage: Coverage) -> str:
    counts = f"{coverage.delegated} / {coverage.total} nodes · {partitions_text(coverage)}"
    if coverage.on_cpu == 0:
        return f"{counts} · fully delegated"
    return f"{counts} · on CPU: {ops_text(coverage.fallback, SHOWN_OPS)}"


def partitions_text(coverage: Coverage) -> str:
    n = coverage.partitions
    return "partitions not reported" if n is None else f"{n} partition{'' if n == 1 else 's'}"


def ops_text(fallback: Mapping[str, int] | None, most: int) -> str:
    """`SOFTMAX ×1, MEAN ×1`: the first `most` ops and how many more."""
    named = op_counts(fallback)
    if len(named) > most:
        named = [*named[:most], f"+{len(named) - most} more"]
    return ", ".join(named)


def op_counts(fallback: Mapping[str, int] | None) -> list[str]:
    if fallback is None:
        return ["op types not reported"]
    return [f"{plot_text(op)} ×{count}" for op, count in fallback.items()]


def hover_text(row: Record, coverage: Coverage | None) -> str:
    """Counts, partitions and every op left on the CPU, four to a line."""
    title = f"<b>{plot_text(row['model'])}</b> · {plot_text(row['column'])}"
    if coverage is None:
        return f"{title}<br>{NOT_REPORTED}"
    share = format_share(coverage.delegated / coverage.total)
    counts = f"{coverage.delegated} of {coverage.total} nodes delegated ({share})"
    lines = [title, counts, partitions_text(coverage)]
    if coverage.on_cpu == 0:
        return "<br>".join([*lines, "fully delegated"])
    ops = op_counts(coverage.fallback)
    wrapped = [", ".join(ops[i : i + 4]) for i in range(0, len(ops), 4)]
    return "<br>".join([*lines, "on CPU: " + "<br>".join(wrapped)])
