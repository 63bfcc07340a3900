"""Device temperature around each cell: when a cell counts as hot, and the per-device strip of
temperatures before and after every cell in the order the cells ran."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from farm.dashboard.cells import Record, records
from farm.dashboard.header import readable_time
from farm.dashboard.markup import notice, plot_text
from farm.dashboard.theme import DELEGATED_COLOR, FAILED_COLOR, MUTED_INK, style_figure
from farm.dashboard.units import format_celsius
from farm.dashboard.view import Block, recorded_facts

DEFAULT_HOT_C = 70.0  # above what phones and boards throttle at; a cooldown target overrides it
BEFORE_AFTER = ("temp_before_c", "temp_after_c")


def hot_threshold_c(run: Mapping[str, Any], device: str) -> tuple[float, str]:
    """The temperature from which a cell ended hot, and where it comes from: the device's
    cooldown `max_temp_c` when run.json records it (`devices.<name>.cooldown`), else 70 °C."""
    cooldown = recorded_facts(run, device).get("cooldown")
    limit = cooldown.get("max_temp_c") if isinstance(cooldown, Mapping) else None
    if isinstance(limit, (int, float)) and not isinstance(limit, bool):
        return float(limit), "the cooldown's max_temp_c"
    return DEFAULT_HOT_C, "the default"


def hot_mask(cells: pd.DataFrame, threshold_c: float) -> np.ndarray:
    """Cells whose temperature after the run was at or above `threshold_c` (null: not hot)."""
    after = pd.to_numeric(cells["temp_after_c"], errors="coerce")
    return after.ge(threshold_c).to_numpy(dtype=bool)


def temperature_block(cells: pd.DataFrame, run: Mapping[str, Any]) -> Block:
    """One device's strip, or a sentence saying it reports no temperature."""
    device = str(cells["device"].iloc[0])
    if cells[list(BEFORE_AFTER)].isna().all(axis=None):
        return notice(f"{device} reports no temperature: its cells have none before or after.")
    return temperature_figure(in_run_order(cells), hot_threshold_c(run, device)[0])


def in_run_order(cells: pd.DataFrame) -> pd.DataFrame:
    """The cells with a temperature (a skipped cell never ran), by start time (cells without
    one last, as recorded)."""
    measured = cells[cells[list(BEFORE_AFTER)].notna().any(axis=1).to_numpy(dtype=bool)]
    return measured.sort_values("started_at", kind="stable", na_position="last")


def temperature_figure(cells: pd.DataFrame, threshold_c: float) -> go.Figure:
    """Before (open) and after (filled) per cell joined by a line, hot cells ringed, the hot
    threshold dashed."""
    x = np.arange(1, len(cells) + 1)
    before, after = (pd.to_numeric(cells[c], errors="coerce").to_numpy(float) for c in BEFORE_AFTER)
    hovers = [hover_text(n, row) for n, row in enumerate(records(cells), start=1)]
    hot = hot_mask(cells, threshold_c)
    figure = go.Figure([
        spans(x, before, after),
        points("before the cell", x, before, hovers, {"symbol": "circle-open", "color": MUTED_INK}),
        points("after the cell", x, after, hovers, {"color": DELEGATED_COLOR}),
        points(f"ended hot (≥ {threshold_c:g} °C)", x[hot], after[hot], np.asarray(hovers)[hot],
               {"symbol": "circle-open", "color": FAILED_COLOR, "size": 16, "line_width": 3}),
    ])  # fmt: skip
    figure.add_hline(
        y=threshold_c, line_dash="dash", line_color=FAILED_COLOR, line_width=1,
        annotation_text=f"hot ≥ {threshold_c:g} °C", annotation_position="top left",
    )  # fmt: skip
    figure.update_xaxes(title="cells with a temperature, in the order they ran")
    figure.update_xaxes(range=[0.3, len(cells) + 0.7], dtick=1 if len(cells) <= 40 else None)
    figure.update_yaxes(title="°C")
    return style_figure(figure, height_px=300)


def spans(x: np.ndarray, before: np.ndarray, after: np.ndarray) -> go.Scatter:
    """A thin vertical line from before to after for each cell (None breaks the line)."""
    xs = [v for n in x for v in (n, n, None)]
    ys = [v for b, a in zip(before, after, strict=True) for v in (b, a, None)]
    return go.Scatter(
        x=xs, y=ys, mode="lines", line={"color": "#bcccdc", "width": 2}, hoverinfo="skip",
        showlegend=False,
    )  # fmt: skip


def points(
    name: str, x: np.ndarray, y: np.ndarray, hovers: Any, marker: dict[str, Any]
) -> go.Scatter:
    return go.Scatter(
        x=x, y=y, name=name, mode="markers", marker={"size": 9, **marker},
        customdata=list(hovers), hovertemplate="%{customdata}<extra></extra>",
    )  # fmt: skip


def hover_text(n: int, row: Record) -> str:
    before, after = format_celsius(row["temp_before_c"]), format_celsius(row["temp_after_c"])
    return "<br>".join([
        f"<b>{plot_text(row['model'])}</b> · {plot_text(row['column'])}",
        f"cell {n} · started {plot_text(readable_time(row['started_at']))}",
        f"{before} before → {after} after",
        f"{plot_text(row['status'])}",
    ])  # fmt: skip
