"""Figures built as Plotly's JSON (`view.FigureDict`) rather than `go.Figure`s, for the charts
a large run draws on every device page: Plotly validates and copies every value of a
`go.Figure` when it is built, styled and rendered, which took half of a 27 k-cell report (47
device pages; cProfile). A view builds its traces as dicts and passes the values Plotly would
keep as arrays through `typed`, so the page's JSON is the one `go.Figure` would have written."""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from farm.dashboard.theme import LOOK, template
from farm.dashboard.view import FigureDict

Json = dict[str, Any]


def typed(values: np.ndarray) -> Any:
    """A numeric array as Plotly's typed-array JSON (`{"dtype": "f8", "bdata": …}`), as
    `go.Figure.to_dict` writes it (an empty array stays an empty array); plotly 5, which has
    no typed arrays, writes a list."""
    array = np.array(values)
    try:
        from _plotly_utils.utils import to_typed_array_spec  # go.Figure.to_dict's, plotly ≥ 6
    except ImportError:
        return array.tolist()
    return to_typed_array_spec(array)


def styled(data: list[Json], layout: Mapping[str, Any], height_px: int) -> FigureDict:
    """The figure with `theme.style_figure`'s look over `layout` (its keys are merged one level
    down, as `update_layout` merges them; the template replaces any other). The look is the
    figure's own copy: a view may change its margin."""
    look: Json = {"template": template_json(), "height": height_px, **copy.deepcopy(LOOK)}
    merged = dict(layout)
    for key, value in look.items():
        below = merged.get(key)
        merged[key] = {**below, **value} if isinstance(below, dict) and key != "template" else value
    return {"data": data, "layout": merged}


@functools.cache
def template_json() -> Json:
    """The shared template as JSON, made once: every figure holds this one dict, read only."""
    found: Json = template().to_plotly_json()
    return found


@functools.cache
def colorscale(name: str) -> Any:
    """A named colour scale as Plotly's validator writes it (its stops, to the last digit)."""
    return go.Heatmap(colorscale=name).to_plotly_json()["colorscale"]


def subplots_layout(rows: int, cols: int, **spec: Any) -> Json:
    """The layout `make_subplots` gives (axes, domains, shared axes), a fresh copy each time."""
    return copy.deepcopy(_subplots_layout(rows, cols, tuple(sorted(spec.items()))))


@functools.cache
def _subplots_layout(rows: int, cols: int, spec: tuple[tuple[str, Any], ...]) -> Json:
    layout: Json = make_subplots(rows=rows, cols=cols, **dict(spec)).layout.to_plotly_json()
    return layout


def axis_ref(axis: str, n: int) -> str:
    """The axis of subplot `n` (a row or column, from 1) as traces name it: `x`, `x2` …"""
    return axis if n == 1 else f"{axis}{n}"


def axis_key(axis: str, n: int) -> str:
    """The axis of subplot `n` as the layout names it: `xaxis`, `xaxis2` …"""
    return f"{axis}axis" if n == 1 else f"{axis}axis{n}"


def on_axes(traces: list[Json], n: int) -> list[Json]:
    """The traces drawn in subplot `n` (on its x and y axes)."""
    axes = {"xaxis": axis_ref("x", n), "yaxis": axis_ref("y", n)}
    return [{**trace, **axes} for trace in traces]
