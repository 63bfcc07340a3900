"""Start-up cost per cell: interpreter init and the first inference, next to the steady-state
median for scale (log axis; a metric the device did not report is a gap)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from farm.dashboard.cells import in_model_order, ok_cells
from farm.dashboard.markup import hint, notice, plot_text
from farm.dashboard.theme import log_axis, style_figure
from farm.dashboard.view import RunData, Section, per_device

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


def startup_figure(cells: pd.DataFrame) -> go.Figure:
    """Bars per cell on a (model, delegate/tN) axis, the steady-state median as a tick mark."""
    ordered = in_model_order(cells)
    x = [[plot_text(m) for m in ordered["model"]], [plot_text(c) for c in ordered["column"]]]
    ms = ordered[[*BARS, STEADY]].apply(pd.to_numeric, errors="coerce")
    bars = [bar(x, ms[column], name) for column, name in BARS.items()]
    figure = go.Figure([*bars, steady_marks(x, ms[STEADY])])
    figure.update_layout(barmode="group", yaxis=log_axis("ms", ms.to_numpy(dtype=float).ravel()))
    return style_figure(figure, height_px=440)


def bar(x: list[list[str]], milliseconds: pd.Series, name: str) -> go.Bar:
    hover = f"%{{x}}<br>{name} %{{y:.3g}} ms<extra></extra>"
    return go.Bar(x=x, y=milliseconds, name=name, hovertemplate=hover)


def steady_marks(x: list[list[str]], milliseconds: pd.Series) -> go.Scatter:
    return go.Scatter(
        x=x, y=milliseconds, name="steady-state median", mode="markers",
        marker={"symbol": "line-ew-open", "size": 18, "line": {"width": 2}},
        hovertemplate="%{x}<br>median %{y:.3g} ms<extra></extra>",
    )  # fmt: skip
