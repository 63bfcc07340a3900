"""Per-cell latency distributions from the samples: one box per `delegate/tN`, grouped by model,
one chart per device, on a log axis so fast and slow models share it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from farm.dashboard.cells import Record, ok_cells, ordered_columns, ordered_models, records
from farm.dashboard.markup import hint, notice, plot_text
from farm.dashboard.theme import log_axis, series_colors, style_figure
from farm.dashboard.units import samples_of, thin_samples
from farm.dashboard.view import Block, RunData, Section, per_device

ANCHOR, TITLE = "distributions", "Latency distributions"
MAX_SAMPLES_PER_CELL = 1000  # more would only add page weight; the shape is kept by quantiles
HINT = "Every timed inference of each ok cell (log scale); whiskers at 1.5 IQR, dots beyond."


def section(data: RunData) -> Section:
    """One box chart per device, over the ok cells that recorded samples."""
    cells = ok_cells(data.cells)
    cells = cells[[len(samples_of(s)) > 0 for s in cells["samples_ms"]]]
    if cells.empty:
        return Section(ANCHOR, TITLE, (notice("No ok cell recorded latency samples."),))
    colors = series_colors(ordered_columns(cells))
    blocks = per_device(cells, lambda device_cells: distribution_figure(device_cells, colors))
    return Section(ANCHOR, TITLE, (hint(HINT), *blocks))


def distribution_figure(cells: pd.DataFrame, colors: dict[str, str]) -> Block:
    boxes = [
        box
        for column in ordered_columns(cells)
        for box in column_boxes(cells[cells["column"].eq(column)], colors[column])
    ]
    every_sample = np.concatenate([box.y for box in boxes])
    figure = go.Figure(boxes)
    figure.update_layout(boxmode="group", yaxis=log_axis("latency (ms)", every_sample))
    models = [plot_text(m) for m in ordered_models(cells)]
    figure.update_xaxes(type="category", categoryorder="array", categoryarray=models)
    return style_figure(figure, height_px=440)


def column_boxes(cells: pd.DataFrame, color: str) -> list[go.Box]:
    """The cells of one `delegate/tN`: one legend entry, one offset within each model group."""
    return [cell_box(record, color, i == 0) for i, record in enumerate(records(cells))]


def cell_box(record: Record, color: str, show_legend: bool) -> go.Box:
    """One cell's samples as float32 at x0 = its model (no per-sample x: the page stays light)."""
    samples = thin_samples(samples_of(record["samples_ms"]), MAX_SAMPLES_PER_CELL)
    label = plot_text(record["column"])
    return go.Box(
        y=samples.astype(np.float32), x0=plot_text(record["model"]), name=label,
        legendgroup=label, offsetgroup=label, showlegend=show_legend, marker_color=color,
        boxpoints="outliers", marker_size=3, line_width=1.2,
    )  # fmt: skip
