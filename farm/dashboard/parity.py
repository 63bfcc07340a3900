"""Output parity per device: how far each cell's outputs are from its reference's (a delegate's
from the cpu cell of its device, a device's cpu cell from the host's), as 1 − cosine and the
largest absolute difference of the worst output tensor, on log axes. Cells over tolerance are
red, with the reason in the hover, and listed in a table under the charts with their class
(non-finite, zero-output, degraded: see farm.parity)."""

from __future__ import annotations

from itertools import compress
from typing import Any

import numpy as np
import pandas as pd

from farm.dashboard.cells import Record, cell_ids, in_model_order, natural_key, records
from farm.dashboard.figure_json import axis_key, on_axes, styled, subplots_layout, typed
from farm.dashboard.markup import Html, element, hint, notice, plot_reason, plot_text, table, text
from farm.dashboard.theme import FAILED_COLOR, MUTED_INK, OK_COLOR, error_axis
from farm.dashboard.units import (
    as_flag,
    cosine_gap,
    format_cosine,
    format_error,
    format_ms,
    format_share,
    is_missing,
    zero_floor,
)
from farm.dashboard.view import Block, FigureDict, RunData, Section, per_device
from farm.parity import TOP_K

ANCHOR, TITLE = "parity", "Output parity against the CPU reference"
HINT = (
    "Each cell's outputs against its reference cell's on the same inputs (worst output tensor, "
    "log scale, 0 = identical): a delegate against the cpu cell of its device, a device's cpu "
    "cell against the host's. The host's cpu cell with the fewest threads is the reference "
    "itself and is not plotted. Red: over tolerance, the reason in the hover."
)
NOTHING = (
    "No cell's outputs were compared with another cell's: the parity columns of this run are "
    "empty (outputs not dumped, or no reference cell finished ok)."
)
PANELS = {"cosine_gap": "1 − cosine", "parity_max_abs": "max abs error"}
OUTCOMES = {  # verdict → marker colour, symbol, size
    "within tolerance": (OK_COLOR, "circle", 9),
    "over tolerance": (FAILED_COLOR, "x", 13),
    "not judged": (MUTED_INK, "circle-open", 9),
}
FAILED_HEADERS = (
    "Device", "Model", "Cell", "Compared with", "Class", "Cosine", "Max abs", f"Top-{TOP_K}",
    "Reason",
)  # fmt: skip


def section(data: RunData) -> Section:
    """A two-panel chart per device, then the table of cells over tolerance."""
    compared = compared_cells(data.cells)
    if compared.empty:
        return Section(ANCHOR, TITLE, (notice(NOTHING),))
    blocks = per_device(compared, parity_figure)
    return Section(ANCHOR, TITLE, (hint(HINT), *blocks, *failed_part(data.cells)))


def compared_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """Cells compared with another cell, with `cosine_gap` (1 − cosine, float noise as 0)."""
    reference = cells["parity_reference"]
    compared = cells[(reference.notna() & reference.ne(cell_ids(cells))).to_numpy(dtype=bool)]
    return compared.assign(cosine_gap=cosine_gap(compared["parity_cosine"]))


def parity_figure(cells: pd.DataFrame) -> FigureDict:
    """Both error measures side by side on a shared (model, delegate/tN) axis."""
    ordered = in_model_order(cells)
    layout = subplots_layout(1, 2, shared_yaxes=True, horizontal_spacing=0.04)
    y = [[plot_text(m) for m in ordered["model"]], [plot_text(c) for c in ordered["column"]]]
    hovers = np.array([hover_text(record) for record in records(ordered)], dtype=object)
    traces = []
    for col, (column, title) in enumerate(PANELS.items(), start=1):
        errors = pd.to_numeric(ordered[column], errors="coerce").to_numpy(dtype=float)
        floor = zero_floor(errors)
        found = panel_traces(ordered["parity_ok"], y, hovers, errors, floor, col == 1)
        traces += on_axes(found, col)
        xaxis = axis_key("x", col)
        layout[xaxis] = {**layout[xaxis], **error_axis(title, floor, errors)}
    for yaxis in ("yaxis", "yaxis2"):
        layout[yaxis] = {**layout[yaxis], "autorange": "reversed"}
    layout["yaxis2"]["showdividers"] = False  # the shared axis draws them once
    return styled(traces, layout, height_px=110 + 24 * len(ordered))


def panel_traces(
    parity_ok: pd.Series, y: list[list[str]], hovers: np.ndarray, errors: np.ndarray,
    floor: float, legend: bool,
) -> list[dict[str, Any]]:  # fmt: skip
    """One marker trace per verdict; a zero error sits at `floor`, a non-finite one is a gap."""
    shown = np.where(np.isfinite(errors), np.maximum(errors, floor), np.nan)
    verdicts = np.array([verdict(value) for value in parity_ok], dtype=object)
    traces = []
    for name, (color, symbol, size) in OUTCOMES.items():
        picked = verdicts == name
        if picked.any():
            trace = outcome_trace(name, [list(compress(axis, picked)) for axis in y])
            trace |= {"x": typed(shown[picked]), "customdata": hovers[picked].tolist()}
            marker = {"color": color, "symbol": symbol, "size": size}
            traces.append(trace | {"marker": marker, "showlegend": legend})
    return traces


def verdict(parity_ok: object) -> str:
    flag = as_flag(parity_ok)
    return "not judged" if flag is None else "within tolerance" if flag else "over tolerance"


def outcome_trace(name: str, y: list[list[str]]) -> dict[str, Any]:
    return {
        "type": "scatter", "y": y, "name": name, "legendgroup": name, "mode": "markers",
        "hovertemplate": "%{customdata}<extra></extra>",
    }  # fmt: skip


def hover_text(row: Record) -> str:
    lines = [
        f"<b>{plot_text(row['model'])}</b> · {plot_text(row['column'])}",
        f"vs {plot_text(row['parity_reference'])}",
        f"cosine {format_cosine(row['parity_cosine'])} · max abs "
        f"{format_error(row['parity_max_abs'])} · top-{TOP_K} {format_share(row['parity_topk'])}",
        f"median {format_ms(row['latency_median_ms'])}",
    ]
    if not is_missing(row["parity_class"]):
        lines += [f"parity: {plot_text(row['parity_class'])}"]
    if row["status"] != "ok":
        lines += [f"{plot_text(row['status'])} ({plot_text(row['failure_kind'])})"]
        lines += [plot_reason(row["reason"])]
    return "<br>".join(lines)


def failed_part(cells: pd.DataFrame) -> list[Block]:
    """A heading and the cells over tolerance (parity, or drift where it is gated), or a
    sentence saying there are none."""
    heading = element("h3", text("Cells over tolerance"), cls="part")
    over = [as_flag(v) is False for v in cells["parity_ok"]]
    failed = cells[np.asarray(over, dtype=bool) | cells["failure_kind"].eq("parity").to_numpy(bool)]
    if failed.empty:
        return [heading, hint("Every compared cell is within its tolerance.")]
    ordered = in_model_order(failed).sort_values(
        "device", key=lambda d: d.astype(str).map(natural_key), kind="stable"
    )
    rows = [failed_row(record) for record in records(ordered)]
    return [heading, table(FAILED_HEADERS, rows, cls="failures parity")]


def failed_row(row: Record) -> list[Html]:
    """The numbers of the comparison that failed: parity, else the gated drift."""
    drift_only = as_flag(row["parity_ok"]) is not False and not is_missing(row["drift_reference"])
    of = "drift_" if drift_only else "parity_"
    return [
        text(row["device"]), text(row["model"]), text(row["column"]),
        text(row[f"{of}reference"]), text(row["parity_class"]),
        text(format_cosine(row[f"{of}cosine"])),
        text(format_error(row[f"{of}max_abs"])), text(format_share(row[f"{of}topk"])),
        text(row["reason"]),
    ]  # fmt: skip
