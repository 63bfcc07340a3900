"""Assemble the page: run every view over a `RunData`, render figures, inline plotly.js once
(in the head, before any figure), and wrap it all in one HTML document."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from farm.dashboard import (
    answer,
    compare_view,
    coverage,
    devices,
    distributions,
    drift,
    failures,
    heatmap,
    parity,
    quantization,
    reasons,
    startup,
    trends,
)
from farm.dashboard.header import header, run_id
from farm.dashboard.markup import Html, element, text
from farm.dashboard.theme import CSS
from farm.dashboard.view import Block, FigureDict, RunData, Section, View

VIEWS: tuple[View, ...] = (
    answer.section,
    reasons.section,
    heatmap.section,
    distributions.section,
    startup.section,
    parity.section,
    drift.section,
    quantization.section,
    coverage.section,
    failures.section,
    devices.section,
    trends.section,
    compare_view.section,
)
NOTHING = Html("")
PLOT_CONFIG = {"displaylogo": False, "responsive": True}
FIGURES = (go.Figure, dict)


def render_page(
    data: RunData,
    views: Sequence[View] = VIEWS,
    *,
    plotly_src: str | None = None,
    above: Html = NOTHING,
) -> str:
    """The whole document; figures are numbered `figure-1`, `figure-2` … in page order.
    plotly.js is inlined, or loaded from `plotly_src` (a file beside the page) when several
    pages share it; `above` goes between the header and the first section."""
    sections = [view(data) for view in views]
    figure_ids = (f"figure-{n}" for n in itertools.count(1))
    body = "".join(render_section(section, figure_ids) for section in sections)
    script = plotly_script(plotly_src) if plotly_needed(sections) else ""
    top = Html(header(data, sections) + above)
    return document(f"tflite-farm {run_id(data)}", top, Html(body), script)


def plotly_script(src: str | None) -> str:
    return f'<script src="{text(src)}"></script>' if src else f"<script>{get_plotlyjs()}</script>"


def plotly_needed(sections: Sequence[Section]) -> bool:
    return any(isinstance(block, FIGURES) for section in sections for block in section.blocks)


def render_section(section: Section, figure_ids: Iterator[str]) -> Html:
    blocks = "".join(render_block(block, figure_ids) for block in section.blocks)
    return Html(
        f'<section id="{section.anchor}">{element("h2", text(section.title))}{blocks}</section>'
    )


def render_block(block: Block, figure_ids: Iterator[str]) -> Html:
    if isinstance(block, FIGURES):
        return render_figure(block, next(figure_ids))
    return block


def render_figure(figure: go.Figure | FigureDict, div_id: str) -> Html:
    """A figure's div and its newPlot call; plotly escapes `<`, `>` and `/` in the JSON, so no
    string in the data can close the script element."""
    height = figure["layout"]["height"] if isinstance(figure, dict) else figure.layout.height
    return Html(pio.to_html(
        figure, full_html=False, include_plotlyjs=False, div_id=div_id, config=PLOT_CONFIG,
        default_height=f"{height}px", validate=not isinstance(figure, dict),
    ))  # fmt: skip


def document(title: str, header_html: Html, body: Html, script: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{text(title)}</title><style>{CSS}</style>{script}</head>"
        f"<body>{header_html}<main>{body}</main></body></html>\n"
    )
