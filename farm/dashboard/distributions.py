"""Per-cell latency distributions from the samples: one box per `delegate/tN`, grouped by model,
one chart per device, on a log axis so fast and slow models share it.

A chart of more than `SAMPLE_BOX_CELLS` cells draws each box from its quantiles (one trace per
`delegate/tN`, no per-sample dots): a thousand boxes of every sample make a page no browser
draws, and at that density the dots beyond the whiskers cannot be told apart anyway."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from farm.dashboard.cells import Record, ok_cells, ordered_columns, ordered_models, records
from farm.dashboard.figure_json import styled, typed
from farm.dashboard.markup import hint, notice, plot_text
from farm.dashboard.theme import log_axis, series_colors
from farm.dashboard.units import samples_of, thin_samples
from farm.dashboard.view import Block, RunData, Section, per_device

ANCHOR, TITLE = "distributions", "Latency distributions"
MAX_SAMPLES_PER_CELL = 1000  # more would only add page weight; the shape is kept by quantiles
HINT = "Every timed inference of each ok cell (log scale); whiskers at 1.5 IQR, dots beyond."
SAMPLE_BOX_CELLS = 100
QUANTILE_HINT = (
    "Boxes per cell (log scale): the box spans p25–p75, whiskers reach "
    "the furthest sample within 1.5 IQR. On a device of more than {n} cells the boxes come from "
    "each cell's quantiles and no dots are drawn per sample; smaller devices keep the dots."
)


def section(data: RunData) -> Section:
    """One box chart per device, over the ok cells that recorded samples."""
    cells = ok_cells(data.cells)
    cells = cells[(cells["sample_count"] > 0).to_numpy(dtype=bool)]
    if cells.empty:
        return Section(ANCHOR, TITLE, (notice("No ok cell recorded latency samples."),))
    colors = series_colors(ordered_columns(cells))
    blocks = per_device(cells, lambda device_cells: distribution_figure(device_cells, colors))
    return Section(ANCHOR, TITLE, (hint(section_hint(cells)), *blocks))


def section_hint(cells: pd.DataFrame) -> str:
    largest = int(cells["device"].astype(str).value_counts().max())
    return QUANTILE_HINT.format(n=SAMPLE_BOX_CELLS) if largest > SAMPLE_BOX_CELLS else HINT


def distribution_figure(cells: pd.DataFrame, colors: dict[str, str]) -> Block:
    boxes_of = column_boxes if len(cells) <= SAMPLE_BOX_CELLS else quantile_boxes
    boxes, spread = [], []
    by_column = dict(iter(cells.groupby("column", sort=False)))  # one pass, not one a column
    for column in ordered_columns(cells):
        for box, values in boxes_of(by_column[column], colors[column]):
            boxes.append(box)
            spread.append(values)
    models = [plot_text(m) for m in ordered_models(cells)]
    layout = {
        "boxmode": "group",
        "yaxis": log_axis("latency (ms)", np.concatenate(spread).tolist() if spread else []),
        "xaxis": {"type": "category", "categoryorder": "array", "categoryarray": models},
    }
    return styled(boxes, layout, height_px=440)


Box = tuple[dict[str, Any], np.ndarray]
"""A box trace as Plotly JSON, and the values it spans (for the latency axis)."""


def column_boxes(cells: pd.DataFrame, color: str) -> list[Box]:
    """The cells of one `delegate/tN`: one legend entry, one offset within each model group."""
    samples = cells["samples_ms"].tolist()
    return [
        cell_box({**record, "samples_ms": cell_samples}, color, i == 0)
        for i, (record, cell_samples) in enumerate(zip(records(cells), samples, strict=True))
    ]


def quantile_boxes(cells: pd.DataFrame, color: str) -> list[Box]:
    """The cells of one `delegate/tN` as one trace of boxes drawn from each cell's quantiles."""
    q1, median, q3, low, high = box_stats([samples_of(s) for s in cells["samples_ms"]])
    label = plot_text(cells["column"].iloc[0])
    box = {
        "type": "box", "x": [plot_text(model) for model in cells["model"]],
        "q1": typed(q1), "median": typed(median), "q3": typed(q3),
        "lowerfence": typed(low), "upperfence": typed(high),
        "name": label, "legendgroup": label, "offsetgroup": label,
        "marker": {"color": color}, "line": {"width": 1.2}, "boxpoints": False,
    }  # fmt: skip
    return [(box, np.concatenate([low, high]))]


def box_stats(samples: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Tukey's box of each cell: quartiles, and whiskers at the furthest sample within 1.5 IQR
    of the box (what Plotly computes itself when it is given the samples). Cells with as many
    samples are computed together (one numpy call for a device's 500 cells, not 500 calls)."""
    stats = np.full((5, len(samples)), np.nan, dtype=np.float32)
    by_length: dict[int, list[int]] = {}
    for i, cell_samples in enumerate(samples):
        by_length.setdefault(len(cell_samples), []).append(i)
    for length, rows in by_length.items():
        if length:
            stats[:, rows] = tukey(np.stack([samples[i] for i in rows]))
    return tuple(stats)


def tukey(samples: np.ndarray) -> np.ndarray:
    """Rows of samples → q1, median, q3, lower and upper whisker, one column per row."""
    q1, median, q3 = np.percentile(samples, [25, 50, 75], axis=1)
    reach = 1.5 * (q3 - q1)
    inside = (samples >= (q1 - reach)[:, None]) & (samples <= (q3 + reach)[:, None])
    low = np.where(inside, samples, np.inf).min(axis=1)
    high = np.where(inside, samples, -np.inf).max(axis=1)
    return np.stack([q1, median, q3, low, high])


def cell_box(record: Record, color: str, show_legend: bool) -> Box:
    """One cell's samples as float32 at x0 = its model (no per-sample x: the page stays light)."""
    samples = thin_samples(samples_of(record["samples_ms"]), MAX_SAMPLES_PER_CELL)
    label = plot_text(record["column"])
    y = samples.astype(np.float32)
    box = {
        "type": "box", "y": typed(y), "x0": plot_text(record["model"]), "name": label,
        "legendgroup": label, "offsetgroup": label, "showlegend": show_legend,
        "marker": {"color": color, "size": 3}, "boxpoints": "outliers", "line": {"width": 1.2},
    }  # fmt: skip
    return box, y
