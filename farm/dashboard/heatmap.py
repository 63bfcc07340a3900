"""Latency heatmap per device: rows are models, columns `delegate/tN`; each cell reads
`median ms · speedup×` against the cpu cell of the same model, device and threads, and colour
is log10 of the median. A cell that failed parity was still timed: it keeps its latency, marked
`⚠ parity` and outlined in red. Other failed and skipped cells are gaps that name their status."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd

from farm.dashboard.cells import (
    BASELINE_DELEGATE,
    Record,
    ordered_columns,
    ordered_models,
    records,
    timed_cells,
)
from farm.dashboard.figure_json import colorscale, styled
from farm.dashboard.markup import hint, notice, plot_reason, plot_text
from farm.dashboard.theme import FAILED_COLOR, GAP_COLOR, OK_COLOR
from farm.dashboard.units import (
    format_ms,
    format_speedup,
    format_tick_ms,
    is_missing,
    log_ticks,
)
from farm.dashboard.view import Block, FigureDict, RunData, Section, per_device

ANCHOR, TITLE = "latency", "Latency by model × delegate/threads"
T = TypeVar("T")
REASON_CHARS = 160
NOT_IN_MATRIX = "not in this run's matrix"
PARITY_MARK = "⚠ parity"
# What the × in a cell is relative to (cells.speedup_vs_cpu): the cpu delegate, TFLite's builtin
# kernels without XNNPACK, of the same model on the same device at the same thread count.
SPEEDUP_LABEL = "× vs cpu, same threads"
SPEEDUP_HINT = (
    "Each cell: median latency · speedup, where the speedup (× vs cpu, same threads) is the "
    "median of the cpu cell (TFLite's builtin kernels, no XNNPACK) of the same model, device "
    "and thread count divided by this cell's median; above 1× is faster than cpu. A cell whose "
    "cpu cell did not finish ok shows its median alone."
)
MARKS_HINT = (
    "✓ in a cell's corner: its outputs passed parity against the cpu cell; ✗: they failed "
    "(the cell is still timed, outlined in red); no mark: not compared (no reference)."
)


def section(data: RunData) -> Section:
    """One heatmap per device; a device without any timed cell gets a sentence instead."""
    if timed_cells(data.cells).empty:
        return Section(ANCHOR, TITLE, (notice("No cell finished ok: no latency to show."),))
    blocks = per_device(data.cells, device_block)
    return Section(ANCHOR, TITLE, (hint(SPEEDUP_HINT), hint(MARKS_HINT), *blocks))


def device_block(cells: pd.DataFrame) -> Block:
    if timed_cells(cells).empty:
        return notice("No cell finished ok on this device (see Failed and skipped cells).")
    return heatmap_figure(cells)


def heatmap_figure(cells: pd.DataFrame) -> FigureDict:
    """One device's heatmap, models top to bottom, columns labelled above."""
    models, columns = ordered_models(cells), ordered_columns(cells)
    grid = cell_grid(cells, models, columns)
    outlines = [
        {
            "type": "rect", "x0": j - 0.5, "x1": j + 0.5, "y0": i - 0.5, "y1": i + 0.5,
            "xref": "x", "yref": "y", "line": {"color": FAILED_COLOR, "width": 3},
            "name": "parity failed",
        }
        for i, j in parity_failed_positions(grid)
    ]  # fmt: skip
    title = {"text": f"delegate/threads · median · {SPEEDUP_LABEL}"}
    layout = {
        "plot_bgcolor": GAP_COLOR, "annotations": parity_marks(grid),
        "xaxis": {"side": "top", "showgrid": False, "title": title},
        "yaxis": {"autorange": "reversed", "showgrid": False},
        **({"shapes": outlines} if outlines else {}),
    }  # fmt: skip
    trace = heatmap_trace(cells, models, columns, grid)
    return styled([trace], layout, height_px=90 + 44 * len(models))


def heatmap_trace(
    cells: pd.DataFrame, models: list[str], columns: list[str], grid: list[list[Record | None]]
) -> dict[str, Any]:
    """Colour log10(median); text `ms · ×`; hover p5/p95/std/n, or a gap's status and reason."""
    return {
        "type": "heatmap",
        "x": [plot_text(c) for c in columns],
        "y": [plot_text(m) for m in models],
        "z": grid_map(grid, log_median),
        "text": grid_map(grid, cell_text, absent=""),
        "customdata": grid_map(grid, hover_text, absent=NOT_IN_MATRIX),
        "texttemplate": "%{text}",
        "hovertemplate": "%{customdata}<extra></extra>",
        "hoverongaps": True,
        "colorscale": colorscale("Viridis"),
        "reversescale": True,
        "colorbar": colorbar(cells),
        "xgap": 2,
        "ygap": 2,
    }


def cell_grid(
    cells: pd.DataFrame, models: list[str], columns: list[str]
) -> list[list[Record | None]]:
    """rows[model][column] → that cell's record, None where the matrix had no such cell."""
    by_key = {(str(r["model"]), r["column"]): r for r in records(cells)}
    return [[by_key.get((model, column)) for column in columns] for model in models]


def parity_marks(grid: list[list[Record | None]]) -> list[dict[str, Any]]:
    """✓ in the top right corner of a cell whose outputs passed parity, ✗ of one that failed,
    none where parity was not compared. Annotations at category positions, as the outlines
    are shapes there."""
    marks = []
    for i, line in enumerate(grid):
        for j, row in enumerate(line):
            mark = None if row is None else parity_mark(row)
            if mark is not None:
                symbol, color = mark
                marks.append({
                    "x": j + 0.42, "y": i - 0.3, "xref": "x", "yref": "y", "text": symbol,
                    "showarrow": False, "font": {"color": color, "size": 13},
                })  # fmt: skip
    return marks


def failed_parity(row: Record) -> bool:
    """Timed, then failed (its outputs were wrong): its latency stands, with a mark."""
    return bool(row["timed"]) and row["status"] != "ok"


def parity_mark(row: Record) -> tuple[str, str] | None:
    if failed_parity(row):
        return "✗", FAILED_COLOR
    return ("✓", OK_COLOR) if row["status"] == "ok" and row.get("parity_ok") is True else None


def parity_failed_positions(grid: list[list[Record | None]]) -> list[tuple[int, int]]:
    """(row, column) of each timed cell that failed parity: the cells to outline."""
    return [
        (i, j)
        for i, line in enumerate(grid)
        for j, row in enumerate(line)
        if row is not None and failed_parity(row)
    ]


def grid_map(
    grid: list[list[Record | None]], value_of: Callable[[Record], T], absent: T | None = None
) -> list[list[T | None]]:
    """`value_of` each cell; `absent` where the matrix had no such cell."""
    return [[absent if row is None else value_of(row) for row in line] for line in grid]


def log_median(row: Record) -> float | None:
    median = row["latency_median_ms"]
    if not row["timed"] or is_missing(median) or median <= 0:
        return None
    return math.log10(median)


def cell_text(row: Record) -> str:
    """`2.31 ms · 3.2×` for an ok cell, `… ⚠ parity` for one timed before it failed parity,
    else its status. The cpu cells are the baseline, and a cell whose cpu cell did not finish
    ok has no speedup: both show the median alone."""
    if not row["timed"]:
        return plot_text(row["status"])
    speedup = row["speedup_vs_cpu"]
    shown = format_ms(row["latency_median_ms"])
    if not is_missing(speedup) and row["delegate"] != BASELINE_DELEGATE:
        shown = f"{shown} · {format_speedup(speedup)}"
    return shown if row["status"] == "ok" else f"{shown} {PARITY_MARK}"


def hover_text(row: Record) -> str:
    title = f"<b>{plot_text(row['model'])}</b> · {plot_text(row['column'])}"
    if not row["timed"]:
        return "<br>".join([title, *gap_hover(row)])
    failed = [] if row["status"] == "ok" else parity_hover(row)
    return "<br>".join([title, *accelerator_hover(row), *failed, *timed_hover(row)])


def accelerator_hover(row: Record) -> list[str]:
    """What an accelerator cell really ran on: a software GPU is not a phone's."""
    accelerator = row.get("accelerator")
    return [] if is_missing(accelerator) else [f"on {plot_text(accelerator)}"]


def parity_hover(row: Record) -> list[str]:
    """What a timed cell that failed parity says above its numbers."""
    return [
        f"<b>{PARITY_MARK}</b>: failed parity; timed all the same (wrong outputs, sound timing)",
        plot_reason(row["reason"], REASON_CHARS),
    ]


def timed_hover(row: Record) -> list[str]:
    n_samples = row["sample_count"] or row.get("latency_count")
    return [
        f"median {format_ms(row['latency_median_ms'])} · {speedup_phrase(row)}",
        f"p5 {format_ms(row['latency_p5_ms'])} · p95 {format_ms(row['latency_p95_ms'])}",
        f"std {format_ms(row['latency_std_ms'])} · n {plot_text(n_samples)} samples",
    ]


def speedup_phrase(row: Record) -> str:
    if row["delegate"] == BASELINE_DELEGATE:
        return "the baseline for speedups"
    if is_missing(row["speedup_vs_cpu"]):
        return "no ok cpu cell to compare with"
    return f"{format_speedup(row['speedup_vs_cpu'])}{SPEEDUP_LABEL.removeprefix('×')}"


def gap_hover(row: Record) -> list[str]:
    kind = "" if is_missing(row["failure_kind"]) else f" ({plot_text(row['failure_kind'])})"
    return [f"{plot_text(row['status'])}{kind}", plot_reason(row["reason"], REASON_CHARS)]


def colorbar(cells: pd.DataFrame) -> dict[str, Any]:
    """Colour bar ticks in ms although z is log10(ms)."""
    medians = pd.to_numeric(timed_cells(cells)["latency_median_ms"], errors="coerce")
    medians = medians[medians > 0]
    if medians.empty:
        return {"title": {"text": "median"}}
    low, high = float(medians.min()), float(medians.max())
    ticks = [tick for tick in log_ticks(low, high) if low <= tick <= high]
    ticks = ticks if len(ticks) >= 2 else [low, high]  # a narrow range: label its two ends
    tickvals = [math.log10(t) for t in ticks]
    return {
        "title": {"text": "median"},
        "tickvals": tickvals,
        "ticktext": [format_tick_ms(t) for t in ticks],
    }
