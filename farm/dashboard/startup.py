"""Start-up cost per cell: interpreter init and the first inference, next to the steady-state
median for scale (log axis; a metric the device did not report is a gap)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from farm.dashboard.cells import in_model_order, ok_cells
from farm.dashboard.figure_json import styled, typed
from farm.dashboard.markup import hint, notice, plot_text
from farm.dashboard.theme import log_axis
from farm.dashboard.view import FigureDict, RunData, Section, per_device

ANCHOR, TITLE = "startup", "Init and first inference"
HINT = "Interpreter creation plus delegate application (init), the first invoke, and the median."
BARS = {"init_ms": "init", "first_inference_ms": "first inference"}
STEADY = "latency_median_ms"


def section(data: RunData) -> Section:
    """One bar chart per device, over the ok cells."""
    cells = ok_cells(data.cells)
    if cells.empty:
        return Section(ANCHOR, TITLE, (notice("No cell finished ok: no start-up times to show."),))
    return Section(ANCHOR, TITLE, (hint(HINT), *per_device(cells, startup_figure)))


def startup_figure(cells: pd.DataFrame) -> FigureDict:
    """Bars per cell on a (model, delegate/tN) axis, the steady-state median as a tick mark."""
    ordered = in_model_order(cells)
    x = [[plot_text(m) for m in ordered["model"]], [plot_text(c) for c in ordered["column"]]]
    ms = ordered[[*BARS, STEADY]].apply(pd.to_numeric, errors="coerce").astype(float)
    bars = [bar(x, ms[column], name) for column, name in BARS.items()]
    layout = {"barmode": "group", "yaxis": log_axis("ms", ms.to_numpy(dtype=float).ravel())}
    return styled([*bars, steady_marks(x, ms[STEADY])], layout, height_px=440)


def bar(x: list[list[str]], milliseconds: pd.Series, name: str) -> dict[str, Any]:
    hover = f"%{{x}}<br>{name} %{{y:.3g}} ms<extra></extra>"
    y = typed(milliseconds.to_numpy(dtype=float))
    return {"type": "bar", "x": x, "y": y, "name": name, "hovertemplate": hover}


def steady_marks(x: list[list[str]], milliseconds: pd.Series) -> dict[str, Any]:
    return {
        "type": "scatter", "x": x, "y": typed(milliseconds.to_numpy(dtype=float)),
        "name": "steady-state median", "mode": "markers",
        "marker": {"symbol": "line-ew-open", "size": 18, "line": {"width": 2}},
        "hovertemplate": "%{x}<br>median %{y:.3g} ms<extra></extra>",
    }  # fmt: skip
