"""Quantization trade-offs: for each model family with two or more variants, on each device and
`delegate/tN`, every variant's file size, median latency and error against its fp32 sibling
(1 − cosine of the outputs on the same inputs; fp32 itself is 0), with the Pareto front marked.
One chart and one table per family and device."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from typing import cast

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go

from farm.dashboard.cells import Record, natural_key, ordered_columns, records, timed_cells
from farm.dashboard.heatmap import PARITY_MARK
from farm.dashboard.markup import Html, element, hint, notice, plot_text, table, text
from farm.dashboard.pareto import dominated_by
from farm.dashboard.theme import (
    FAILED_COLOR,
    MUTED_INK,
    OK_COLOR,
    error_axis,
    log_axis,
    series_colors,
    style_figure,
)
from farm.dashboard.units import (
    cosine_gap,
    format_cosine,
    format_error,
    format_mb,
    format_ms,
    zero_floor,
)
from farm.dashboard.view import Block, RunData, Section, per_device

ANCHOR, TITLE = "quantization", "Quantization trade-offs"
HINT = (
    "Each variant of a model family on one device, delegate and threads: file size, median "
    "latency (log scale) and error against its fp32 sibling on the same inputs (1 − cosine; "
    "fp32 itself is 0), as marker colour. Ringed: the Pareto front, where no other variant of "
    "the same family, device, delegate and threads is at least as small, as fast and as exact "
    "and strictly better on one of them. A variant without an error (no fp32 sibling timed) is "
    "grey and not judged."
)
NOTHING = (
    "No model family has two variants that were timed: trade-offs need a manifest that names "
    "families and variants (fp32, fp16, int8) and their cells to finish."
)
REFERENCE = "fp32"
VARIANT_RANK = {REFERENCE: 0, "fp16": 1, "int8": 2}
GROUP = ["model_family", "device", "column"]
AXES = ["size_mb", "median_ms", "error"]  # smaller is better on each
ERROR_SCALE = [[0.0, OK_COLOR], [0.5, "#f0b429"], [1.0, FAILED_COLOR]]


def section(data: RunData) -> Section:
    """Per family (two or more variants timed), a heading and per device a chart and a table."""
    points = tradeoff_points(data.cells)
    variants = points.groupby("model_family")["variant"].nunique()
    families = sorted(variants.index[variants >= 2].astype(str), key=natural_key)
    if not families:
        return Section(ANCHOR, TITLE, (notice(NOTHING),))
    colors = series_colors(ordered_columns(points))
    blocks: list[Block] = [hint(HINT)]
    for family in families:
        family_points = points[points["model_family"].eq(family).to_numpy(dtype=bool)]
        heading = element("h3", text(family), cls="part")
        blocks += [heading, *per_device(family_points, lambda c: device_blocks(c, colors))]
    alone = sorted(variants.index[variants < 2].astype(str), key=natural_key)
    if alone:
        blocks.append(hint(f"Left out, one variant timed: {', '.join(alone)}."))
    return Section(ANCHOR, TITLE, tuple(blocks))


def tradeoff_points(cells: pd.DataFrame) -> pd.DataFrame:
    """The timed cells of named families with their variant, size (MB), median and error, and
    where they stand against the front (`on_front`: True, False or None when not judged)."""
    timed = timed_cells(cells)
    timed = timed[timed["model_family"].notna().to_numpy(dtype=bool)]
    variant = timed["model_variant"].fillna(timed["model"]).astype(str)
    error = cosine_gap(timed["drift_cosine"]).where(variant.ne(REFERENCE), 0.0)
    points = timed.assign(
        variant=variant,
        size_mb=pd.to_numeric(timed["model_size_bytes"], errors="coerce") / 1e6,
        median_ms=pd.to_numeric(timed["latency_median_ms"], errors="coerce"),
        error=error,
    )
    return with_front(points)


def with_front(points: pd.DataFrame) -> pd.DataFrame:
    """`on_front` and `beaten_by` (the variants that dominate a point) within each family,
    device and `delegate/tN`; a point missing an axis, or alone in its group, is not judged."""
    on_front: dict[Hashable, bool] = {}
    beaten_by: dict[Hashable, str] = {}
    whole_front: dict[Hashable, bool] = {}
    # Grouped over the columns it reads: a group of the whole frame copies its 90 columns.
    narrow = points[[*GROUP, *AXES, "variant"]]
    for _, group in narrow.groupby(GROUP, sort=False):
        judged = group[group[AXES].notna().all(axis=1).to_numpy(dtype=bool)]
        if len(judged) < 2:
            continue
        names = judged["variant"].tolist()
        winners_of = dominated_by(judged[AXES].to_numpy(float).tolist())
        # Every point on the front says nothing: no mark, no ring (a trade-off in all ways).
        whole = not any(winners_of)
        for index, winners in zip(judged.index, winners_of, strict=True):
            on_front[index] = not winners
            beaten_by[index] = ", ".join(names[j] for j in winners)
            whole_front[index] = whole
    # Gathered in dicts and assigned once: setting values one by one into Series took 5 s of
    # a 27 k-cell report.
    return points.assign(
        on_front=aligned(on_front, points.index, None),
        beaten_by=aligned(beaten_by, points.index, ""),
        whole_front=aligned(whole_front, points.index, False).astype(bool),
    )


def aligned(values: Mapping[Hashable, object], index: pd.Index, missing: object) -> pd.Series:
    return pd.Series([values.get(i, missing) for i in index], index=index, dtype=object)


def in_variant_order(points: pd.DataFrame) -> pd.DataFrame:
    """fp32, fp16, int8, then other variants by name."""
    rank = points["variant"].map(lambda v: (VARIANT_RANK.get(v, len(VARIANT_RANK)), v))
    return points.assign(rank=rank).sort_values("rank", kind="stable").drop(columns="rank")


def device_blocks(points: pd.DataFrame, colors: dict[str, str]) -> list[Block]:
    return [tradeoff_figure(points, colors), tradeoff_table(points)]


def tradeoff_figure(points: pd.DataFrame, colors: dict[str, str]) -> go.Figure:
    """Latency against size, a line per `delegate/tN` through its variants, markers coloured by
    error, the front ringed; the size axis labelled with the variants."""
    ordered = in_variant_order(points)
    scale = ErrorScale(ordered["error"].to_numpy(dtype=float))
    lines = [
        column_trace(ordered[ordered["column"].eq(column)], colors[column], scale)
        for column in ordered_columns(ordered)
    ]
    figure = go.Figure([*lines, front_rings(ordered), scale.colorbar_trace()])
    latency_axis = log_axis("median latency (ms)", ordered["median_ms"].dropna())
    figure.update_layout(xaxis=size_axis(ordered), yaxis=latency_axis)
    return style_figure(figure, height_px=420)


class ErrorScale:
    """Error → marker colour on a log scale from `0` (green) to the largest error (red)."""

    def __init__(self, errors: np.ndarray) -> None:
        self.floor = zero_floor(errors)
        finite = errors[np.isfinite(errors)]
        self.top = max(float(finite.max(initial=0.0)), self.floor * 10)

    def position(self, error: float) -> float:
        low, high = math.log10(self.floor), math.log10(self.top)
        return (math.log10(max(error, self.floor)) - low) / (high - low)

    def color(self, error: float) -> str:
        if not math.isfinite(error):
            return MUTED_INK
        return plotly.colors.sample_colorscale(ERROR_SCALE, [self.position(error)])[0]

    def colorbar_trace(self) -> go.Scatter:
        """An invisible trace that only draws the colour bar, ticked like the parity axes."""
        axis = error_axis("", self.floor, [self.top])
        ticks = cast(list[float], axis["tickvals"])  # a tick above the top is not drawn
        colorbar = {
            "title": {"text": "error vs fp32<br>(1 − cosine)"},
            "tickvals": [self.position(t) for t in ticks], "ticktext": axis["ticktext"],
        }  # fmt: skip
        marker = {
            "colorscale": ERROR_SCALE, "cmin": 0, "cmax": 1, "color": [0],
            "showscale": True, "colorbar": colorbar,
        }  # fmt: skip
        return go.Scatter(
            x=[None], y=[None], mode="markers", marker=marker, showlegend=False, hoverinfo="skip"
        )


def column_trace(points: pd.DataFrame, color: str, scale: ErrorScale) -> go.Scatter:
    """One `delegate/tN`: its variants from the smallest file up, joined by a line."""
    ordered = points.sort_values("size_mb", kind="stable")
    label = plot_text(ordered["column"].iloc[0])
    return go.Scatter(
        x=ordered["size_mb"], y=ordered["median_ms"], name=label, legendgroup=label,
        mode="lines+markers", line={"color": color, "width": 1.5},
        marker={
            "size": 13, "color": [scale.color(e) for e in ordered["error"].to_numpy(float)],
            "line": {"color": color, "width": 2},
        },
        customdata=[hover_text(row) for row in records(ordered)],
        hovertemplate="%{customdata}<extra></extra>",
    )  # fmt: skip


def front_rings(points: pd.DataFrame) -> go.Scatter:
    """A dark ring around every point on the front (`text` names it, for readers of the JSON)."""
    marked = points["on_front"].eq(True) & ~points["whole_front"]
    front = points[marked.to_numpy(dtype=bool)]
    return go.Scatter(
        x=front["size_mb"], y=front["median_ms"], name="Pareto front", mode="markers",
        marker={"symbol": "circle-open", "size": 24, "color": "#1f2933", "line": {"width": 2}},
        text=[f"{plot_text(r['variant'])} · {plot_text(r['column'])}" for r in records(front)],
        hoverinfo="skip",
    )  # fmt: skip


def size_axis(points: pd.DataFrame) -> dict[str, object]:
    """Linear from 0 (sizes compare as proportions), a tick per variant: `int8` over its size."""
    sizes = points.drop_duplicates("variant")[["variant", "size_mb"]].dropna()
    top = float(sizes["size_mb"].max()) if len(sizes) else 1.0
    return {
        "title": {"text": "model size"},
        "range": [0, top * 1.12],
        "tickvals": sizes["size_mb"].tolist(),
        "ticktext": [f"{plot_text(v)}<br>{format_mb(s * 1e6)}" for v, s in sizes.itertuples(False)],
    }


def hover_text(row: Record) -> str:
    lines = [
        f"<b>{plot_text(row['variant'])}</b> · {plot_text(row['column'])}",
        f"size {format_mb(row['model_size_bytes'])} · median {format_ms(row['median_ms'])}",
        error_text(row),
        plot_text(front_text(row)),
    ]
    if row["status"] != "ok":
        lines.append(f"{PARITY_MARK}: failed parity (still timed)")
    return "<br>".join(line for line in lines if line)


def error_text(row: Record) -> str:
    if row["variant"] == REFERENCE:
        return "0 (the fp32 reference)"
    if not math.isfinite(row["error"]):
        return "not known: no fp32 sibling timed"
    return f"{format_error(row['error'])} (cosine {format_cosine(row['drift_cosine'])})"


def front_text(row: Record) -> str:
    """Where the point stands; "" when every point of its group is on the front."""
    if row["on_front"] is True:
        return "" if row["whole_front"] else "★ on the front"
    if row["on_front"] is False:
        return f"dominated by {row['beaten_by']}"
    return "not judged: error not known" if not math.isfinite(row["error"]) else "alone here"


def tradeoff_table(points: pd.DataFrame) -> Html:
    """A row per variant (fp32 first) with its size, a column per `delegate/tN` with the
    median, the error and where the variant stands against the front there."""
    columns = ordered_columns(points)
    rows = []
    for variant, cells in in_variant_order(points).groupby("variant", sort=False):
        by_column = {row["column"]: row for row in records(cells)}
        size = text(format_mb(cells["model_size_bytes"].iloc[0]))
        rows.append([text(variant), size, *(tradeoff_cell(by_column.get(c)) for c in columns)])
    return table(("Variant", "Size", *columns), rows, cls="tradeoffs")


def tradeoff_cell(row: Record | None) -> Html:
    """`0.549 ms`, `error 0.0164`, `★ on the front` (bold) on three lines."""
    if row is None:
        return text(None)
    median = format_ms(row["median_ms"])
    median = median if row["status"] == "ok" else f"{median} {PARITY_MARK}"
    error = (
        "error 0 (reference)"
        if row["variant"] == REFERENCE
        else f"error {format_error(row['error'])}"
    )
    stands = front_text(row)
    if not stands:
        return Html(f"{text(median)}<br>{text(error)}")
    front = text(stands)
    front = element("span", front, cls="front") if row["on_front"] is True else front
    return Html(f"{text(median)}<br>{text(error)}<br>{front}")
