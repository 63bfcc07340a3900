"""Latency per cell across runs: for each device a panel per model with every `delegate/tN`'s
per-run median, its p5–p95 band and the change points where it stepped to a new level
(`changepoints.py`); above the charts, every change point in one table."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from plotly.colors import hex_to_rgb

from farm.dashboard import HISTORY_COLUMNS
from farm.dashboard.cells import (
    Record,
    column_labels,
    latest_attempts,
    natural_key,
    ordered_columns,
    ordered_models,
    records,
    timed_mask,
)
from farm.dashboard.changepoints import MIN_SIZE, MIN_STEP, change_points
from farm.dashboard.figure_json import axis_key, axis_ref, on_axes, styled, subplots_layout
from farm.dashboard.markup import Html, hint, notice, plot_text, table, text
from farm.dashboard.theme import FAILED_COLOR, OK_COLOR, log_axis, series_colors
from farm.dashboard.units import (
    even_ticks,
    format_change,
    format_ms,
    format_ms_all,
    log_ticks,
)
from farm.dashboard.view import Block, RunData, Section, per_device

ANCHOR, TITLE = "trends", "Trends across runs"
HINT = (
    "Median latency of each timed cell in every run (log scale; a gap where the cell did not "
    "finish) and its p5–p95 band. Dotted line and triangle: a change point, where the per-run "
    f"medians stepped by {MIN_STEP:.0%} or more beyond the run-to-run noise, with at least "
    f"{MIN_SIZE} runs on each side (▲ slower, ▼ faster). A step in the latest run shows in the "
    "comparison below until later runs confirm it."
)
NO_STEP = f"No change point: no cell's median stepped by {MIN_STEP:.0%} or more."
STEP_HEADERS = ("Device", "Model", "Delegate/threads", "From run", "Before", "After", "Step")
PANEL_PX, GAP_PX = 200, 56
# A year of nightlies is 365 points a line: more than a chart can show apart, and 20 MB of
# page per device. The charts draw the last 90 runs (a quarter); the table above them lists
# the change points of every run.
CHART_RUNS = 90
WINDOW = "The charts show the last {n} of {of} runs; the table above covers them all."


def section(data: RunData) -> Section:
    """A change-point table and one chart per device, or why there is nothing to trend."""
    history = data.history if data.history is not None else data.cells.iloc[0:0]
    runs = run_table(history)
    if len(runs) < 2:
        n = max(len(runs), 1)  # at least the run this page is about
        return Section(ANCHOR, TITLE, (notice(too_few(n)),))
    points = trend_points(history, runs)
    if points.empty:
        return Section(ANCHOR, TITLE, (notice("No cell was timed in any run."),))
    steps = find_steps(points)
    colors = series_colors(ordered_columns(points))
    shown, shown_steps, shown_points = latest(runs, steps, points)
    figures = per_device(
        shown_points, lambda cells: device_figure(cells, shown, shown_steps, colors)
    )
    window = [] if len(shown) == len(runs) else [hint(WINDOW.format(n=len(shown), of=len(runs)))]
    return Section(ANCHOR, TITLE, (hint(HINT), steps_table(steps), *window, *figures))


def latest(
    runs: pd.DataFrame, steps: pd.DataFrame, points: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The last `CHART_RUNS` runs, and the steps and points in them: what the charts draw."""
    if len(runs) <= CHART_RUNS:
        return runs, steps, points
    shown = runs.tail(CHART_RUNS).reset_index(drop=True)
    ids = set(shown["run_id"])
    return (
        shown,
        steps[steps["run_id"].isin(ids).to_numpy(dtype=bool)],
        points[points["run_id"].isin(ids).to_numpy(dtype=bool)],
    )


def too_few(n: int) -> str:
    return f"Trends need at least two runs; the history under reports/runs/ holds {n}."


def run_table(history: pd.DataFrame) -> pd.DataFrame:
    """One row per run in history order (oldest first): `run_id`, `number` (1, 2 …), `x` (the
    start time in UTC when every run has one, else the number) and a hover `label`."""
    firsts = history[history["run_id"].notna().to_numpy(dtype=bool)].drop_duplicates("run_id")
    ids = firsts["run_id"].astype(str).tolist()
    numbers = list(range(1, len(ids) + 1))
    started = start_times(firsts)
    when = [""] * len(ids) if started is None else [f"<br>started {t} UTC" for t in started]
    labels = [f"run {n}: {plot_text(i)}{w}" for n, i, w in zip(numbers, ids, when, strict=True)]
    x = numbers if started is None else started
    return pd.DataFrame({"run_id": ids, "number": numbers, "x": x, "label": labels})


def start_times(runs: pd.DataFrame) -> list[str] | None:
    """Each run's start in UTC (`2025-11-23 09:38:12`), or None when one of them has none."""
    if runs.empty or "run_started_at" not in runs.columns:
        return None
    started = pd.to_datetime(runs["run_started_at"], utc=True, errors="coerce", format="ISO8601")
    return None if started.isna().any() else started.dt.strftime("%Y-%m-%d %H:%M:%S").tolist()


def trend_points(history: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """The timed cells of every run (a cell retried in a run counts once), with their run's
    `number`, `x` and `label`: one pass over the whole history, not a `prepare` per run."""
    missing = {name: None for name in HISTORY_COLUMNS if name not in history.columns}
    history = history.assign(run_id=history["run_id"].astype(str), **missing)
    frame = latest_attempts(history, by=["run_id"])
    frame = frame.assign(column=column_labels(frame))
    median = pd.to_numeric(frame["latency_median_ms"], errors="coerce")
    timed = frame[(timed_mask(frame) & (median > 0).to_numpy(dtype=bool))]
    return runners_apart(timed.merge(runs, on="run_id").sort_values("number", kind="stable"))


def runners_apart(points: pd.DataFrame) -> pd.DataFrame:
    """A device whose cells ran with two runners across runs (devices.yaml switched it from
    the Python runner to benchmark_model) gets a line per runner, `cpu/t1 · benchmark_model`:
    two runners give two different cells, never one trend with a step where the runner changed."""
    runner = points["runner"]
    mixed = (runner.groupby(points["device"]).transform("nunique") > 1) & runner.notna()
    labelled = points["column"].where(~mixed, points["column"] + " · " + runner.astype(str))
    return points.assign(column=labelled)


def find_steps(points: pd.DataFrame) -> pd.DataFrame:
    """Every cell's change points: one row per step with the cell, the run where the new level
    starts (`run_id`, `x`, `label`) and `before_ms`, `after_ms`, `change`."""
    rows = []
    for _, series in points.groupby(["device", "model", "column"], sort=False):
        medians = pd.to_numeric(series["latency_median_ms"]).to_numpy(dtype=float)
        for point in change_points(medians):
            run = series.iloc[point.index]
            rows.append({
                "device": str(run["device"]), "model": str(run["model"]),
                "column": run["column"], "run_id": run["run_id"], "x": run["x"],
                "label": run["label"], "before_ms": point.before_ms,
                "after_ms": point.after_ms, "change": point.change,
            })  # fmt: skip
    columns = ["device", "model", "column", "run_id", "x", "label", "before_ms", "after_ms"]
    return pd.DataFrame(rows, columns=[*columns, "change"])


def steps_table(steps: pd.DataFrame) -> Html:
    if steps.empty:
        return notice(NO_STEP)
    ordered = steps.sort_values(["device", "model", "column", "x"], key=_sort_key)
    rows = [step_row(step) for step in records(ordered)]
    return table(STEP_HEADERS, rows, cls="steps")


def _sort_key(column: pd.Series) -> pd.Series:
    return column if column.name == "x" else column.astype(str).map(natural_key)


def step_row(step: Record) -> list[Html]:
    cells = (step["device"], step["model"], step["column"], step["run_id"])
    numbers = (format_ms(step["before_ms"]), format_ms(step["after_ms"]))
    return [*map(text, cells), *map(text, numbers), text(format_change(step["change"]))]


def device_figure(
    cells: pd.DataFrame, runs: pd.DataFrame, steps: pd.DataFrame, colors: dict[str, str]
) -> Block:
    """A panel per model (shared time axis), a line and band per `delegate/tN`.

    The figure is Plotly's JSON built as plain dicts, without Plotly's per-value validation (a
    `FigureDict`): a year's device page draws 400 traces, and building each as a `go.Scatter`,
    then copying it into a figure and out again, took 30 s of the 51 s report. The device's
    values are read once (not a frame per line), and the panels' layout (`make_subplots`'s)
    is made once for each list of models (`figure_json.subplots_layout`)."""
    models = ordered_models(cells)
    height = 90 + PANEL_PX * len(models)
    layout = subplots_layout(
        len(models), 1, shared_xaxes=True, vertical_spacing=GAP_PX / height,
        subplot_titles=tuple(plot_text(model) for model in models),
    )  # fmt: skip
    device_steps = steps[steps["device"].eq(str(cells["device"].iloc[0])).to_numpy(dtype=bool)]
    at = runs.reset_index().set_index("number")["index"][cells["number"]].to_numpy(dtype=np.int64)
    numbers = cells[list(QUANTILES)].apply(pd.to_numeric, errors="coerce")
    values = numbers.to_numpy(dtype=float, na_value=np.nan)
    lines = cells.groupby([cells["model"].astype(str), "column"], sort=False).indices
    device_columns = ordered_columns(cells)  # each panel's are these in this order, or fewer
    x, labels = runs["x"].tolist(), runs["label"].tolist()
    legend: set[str] = set()
    traces: list[dict[str, Any]] = []
    for row, model in enumerate(models, start=1):
        drawn = []  # the panel's values, for its axis
        for column in [column for column in device_columns if (model, column) in lines]:
            rows = lines[(model, column)]
            drawn.append(values[rows])
            series = Series(plot_text(model), plot_text(column), at[rows], drawn[-1])
            found = series_traces(series, x, labels, colors[column], column not in legend)
            traces += on_axes(found, row)
            legend.add(column)
        model_steps = device_steps[device_steps["model"].eq(model).to_numpy(dtype=bool)]
        found, shapes = mark_steps(model_steps, row, legend)
        traces += on_axes(found, row)
        if shapes:
            layout.setdefault("shapes", []).extend(shapes)
        layout[axis_key("y", row)].update(latency_axis(np.concatenate(drawn).ravel().tolist()))
    dated = not pd.api.types.is_integer_dtype(runs["x"])
    for key in [key for key in layout if key.startswith("xaxis")]:
        layout[key].update({"type": "date"} if dated else {"type": "linear", "dtick": 1})
    bottom = layout[axis_key("x", len(models))]
    bottom["title"] = {"text": "run start (UTC)" if dated else "run"}
    return styled(traces, layout, height)


QUANTILES = ("latency_p5_ms", "latency_median_ms", "latency_p95_ms")


def latency_axis(values_ms: list[float]) -> dict[str, object]:
    """A log axis (relative steps look alike at any latency) labelled 1-2-5 × 10ⁿ, or at round
    values in between when the panel spans too little for two of those."""
    axis = log_axis("latency (ms)", values_ms)
    finite = sorted(v for v in values_ms if math.isfinite(v) and v > 0)
    if not finite:
        return axis
    low, high = finite[0], finite[-1]
    if sum(low <= tick <= high for tick in log_ticks(low, high)) < 2:
        ticks = [tick for tick in even_ticks(low, high) if tick > 0]
        axis.update(tickvals=ticks, ticktext=[f"{tick:g}" for tick in ticks])
    return axis


@dataclass(frozen=True)
class Series:
    """One cell's line: its model and column (as plot text), the runs it has a value in (their
    places in the run table) and its p5, median and p95 there (a row per run)."""

    model: str
    column: str
    at: np.ndarray
    values: np.ndarray


def series_traces(
    series: Series, x: list[Any], labels: list[str], color: str, show_legend: bool
) -> list[dict[str, Any]]:
    """The p5–p95 band (under) and the median line of one cell, a gap where a run has none."""
    # One value per run, in run order: the cell's values land at their run's place (`at`).
    low, median, high = (aligned(series.values[:, i], series.at, len(x)) for i in range(3))
    hovers = hover_texts(labels, f"{series.model} · {series.column}", median, low, high)
    line = {
        "type": "scatter", "x": x, "y": [None if math.isnan(m) else m for m in median],
        "name": series.column, "legendgroup": series.column, "showlegend": show_legend,
        "mode": "lines+markers", "line": {"color": color, "width": 1.8}, "marker": {"size": 5},
        "customdata": hovers, "hovertemplate": "%{customdata}<extra></extra>",
    }  # fmt: skip
    return [*band_trace(x, low, high, color, series.column), line]


def aligned(values: np.ndarray, at: np.ndarray, runs: int) -> list[float]:
    """A cell's values at their runs' places, NaN for the runs without one."""
    every = np.full(runs, np.nan)
    every[at] = values
    return every.tolist()


def band_trace(
    x: list[Any], low: list[float], high: list[float], color: str, column: str
) -> list[dict[str, Any]]:
    known = [i for i, (a, b) in enumerate(zip(low, high, strict=True)) if a == a and b == b]
    if not known:
        return []
    shown = [x[i] for i in known]
    red, green, blue = hex_to_rgb(color)
    return [{
        "type": "scatter", "x": shown + shown[::-1],
        "y": [high[i] for i in known] + [low[i] for i in known][::-1], "fill": "toself",
        "fillcolor": f"rgba({red},{green},{blue},0.15)", "line": {"width": 0},
        "hoverinfo": "skip", "legendgroup": column, "showlegend": False, "mode": "lines",
    }]  # fmt: skip


def hover_texts(
    labels: list[str], cell: str, median: list[float], low: list[float], high: list[float]
) -> list[str]:
    """Each point's hover: its run, the cell, the median and the p5–p95 spread. Formatted a
    column at a time (`format_ms_all`): one call per point was 11 % of a year's report."""
    medians, lows, highs = format_ms_all(median), format_ms_all(low), format_ms_all(high)
    return [
        f"{label}<br>{cell}<br>not timed in this run"
        if m != m
        else f"{label}<br>{cell}<br>median {m_text}<br>p5–p95 {lo} – {hi}"
        for label, m, m_text, lo, hi in zip(labels, median, medians, lows, highs, strict=True)
    ]


def mark_steps(
    steps: pd.DataFrame, row: int, legend: set[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A triangle at each step's new level, with a hover (the trace), and a dotted vertical
    line at each step (the layout's shapes), in panel `row`."""
    if steps.empty:
        return [], []
    colors = [FAILED_COLOR if change > 0 else OK_COLOR for change in steps["change"]]
    shapes = [
        {
            "line": {"color": color, "dash": "dot", "width": 1.5}, "type": "line", "x0": x,
            "x1": x, "xref": axis_ref("x", row), "y0": 0, "y1": 1,
            "yref": f"{axis_ref('y', row)} domain",
        }
        for x, color in zip(steps["x"].tolist(), colors, strict=True)
    ]  # fmt: skip
    symbols = ["triangle-up" if change > 0 else "triangle-down" for change in steps["change"]]
    marker = {"symbol": symbols, "color": colors, "size": 13, "line": {"color": "#fff", "width": 1}}
    trace = {
        "type": "scatter", "x": steps["x"].tolist(), "y": steps["after_ms"].tolist(),
        "mode": "markers", "marker": marker, "name": "change point",
        "legendgroup": "change point", "showlegend": "change point" not in legend,
        "customdata": [step_hover(step) for step in records(steps)],
        "hovertemplate": "%{customdata}<extra></extra>",
    }  # fmt: skip
    legend.add("change point")
    return [trace], shapes


def step_hover(step: Record) -> str:
    return (
        f"<b>change point</b> · {plot_text(step['model'])} · {plot_text(step['column'])}<br>"
        f"from {step['label']}<br>median {format_ms(step['before_ms'])} → "
        f"{format_ms(step['after_ms'])} ({format_change(step['change'])})"
    )
