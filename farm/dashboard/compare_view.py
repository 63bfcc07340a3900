"""This run against its baseline (the last good run before it): every compared cell, worst
first, with the change in median latency and its confidence interval, as a table and as a
forest plot of the intervals against the ±threshold band. The comparison itself is made by
`farm.compare` (block bootstrap of the ratio of medians); this view only shows it."""

from __future__ import annotations

from collections.abc import Iterable

import plotly.graph_objects as go

from farm.compare import severity as verdicts
from farm.compare.comparison import CellComparison, Comparison
from farm.dashboard.cells import column_label, natural_key
from farm.dashboard.markup import Html, element, hint, notice, plot_text, table, text
from farm.dashboard.theme import FAILED_COLOR, MUTED_INK, OK_COLOR, style_figure
from farm.dashboard.units import format_change, format_ms
from farm.dashboard.view import Block, RunData, Section

ANCHOR, TITLE = "compare", "Compared with the baseline"
NO_BASELINE = (
    "No baseline to compare with: this is the first run under reports/runs/, or no earlier run "
    "finished without a failed cell."
)
BADGE = {"parity broken": "failed", "slower": "failed", "infra failure": "warn"}
BADGE |= {"not comparable": "warn", "faster": "ok", "same": "same"}
MARKER_COLOR = {"slower": FAILED_COLOR, "faster": OK_COLOR, "same": MUTED_INK}
NameKey = tuple[str | int, ...]  # `natural_key` of a name


def section(data: RunData) -> Section:
    """The summary line, the table and the forest plot; a sentence when there is no baseline."""
    comparison = data.comparison
    if comparison is None:
        return Section(ANCHOR, TITLE, (notice(NO_BASELINE),))
    rows = ordered(comparison.rows)
    blocks: list[Block] = [summary(comparison, data.baseline), hint(how_to_read(comparison))]
    blocks.append(comparison_table(rows, comparison.confidence))
    plotted = [row for row in rows if row.change is not None and row.verdict in MARKER_COLOR]
    if plotted:
        blocks.append(forest_figure(plotted, comparison.threshold, comparison.confidence))
    return Section(ANCHOR, TITLE, tuple(blocks))


def shown_verdict(row: CellComparison) -> str:
    """The verdict a reader should see first (as in `farm compare`'s table)."""
    return verdicts.shown_verdict(row.verdict, row.parity_broken, row.infra_failure)


def ordered(rows: Iterable[CellComparison]) -> list[CellComparison]:
    """Most serious first; within a verdict the largest change first, then by name."""
    return sorted(rows, key=severity)


def severity(row: CellComparison) -> tuple[int, float, NameKey, NameKey, str, int]:
    rank = verdicts.severity(row.verdict, row.parity_broken, row.infra_failure)
    size = -abs(row.change) if row.change is not None else 0.0
    return rank, size, natural_key(row.device), natural_key(row.model), row.delegate, row.threads


def summary(comparison: Comparison, baseline: str | None) -> Html:
    counts = verdicts.count_line([shown_verdict(row) for row in comparison.rows])
    against = f"run {baseline}" if baseline else "an earlier run"
    return element("p", text(f"This run against {against}: {counts or 'no cells'}."))


def how_to_read(comparison: Comparison) -> str:
    confidence, threshold = f"{comparison.confidence:.0%}", f"{comparison.threshold:.0%}"
    return (
        f"Change in median latency (this run / baseline − 1) with its {confidence} confidence "
        f"interval from the per-iteration samples. A cell is slower or faster only when the whole "
        f"interval lies beyond ±{threshold} (the grey band); cells that kept no samples are judged "
        "on their medians against the threshold and the runs' spread. Not comparable: the runtime, "
        "delegate library, device or model changed, or a side has no result."
    )


def comparison_table(rows: list[CellComparison], confidence: float) -> Html:
    headers: tuple[str, ...] = (
        "Device",
        "Model",
        "Delegate/threads",
        "Baseline",
        "This run",
        "Change",
    )
    headers += (f"{confidence:.0%} interval", "Verdict", "Reason")
    return table(headers, [table_row(row) for row in rows], cls="compare")


def table_row(row: CellComparison) -> list[Html]:
    verdict = shown_verdict(row)
    badge = element("span", text(verdict), cls=f"badge {BADGE.get(verdict, 'same')}")
    return [
        text(row.device), text(row.model), text(column_label(row.delegate, row.threads)),
        text(format_ms(row.base_median_ms)), text(format_ms(row.new_median_ms)),
        text(format_change(row.change)), text(interval(row)), badge,
        element("span", text(row.reason), cls="reason") if row.reason else text(None),
    ]  # fmt: skip


def interval(row: CellComparison) -> str | None:
    if row.ci_low is None or row.ci_high is None:
        return None
    return f"{format_change(row.ci_low)} … {format_change(row.ci_high)}"


def cell_name(row: CellComparison) -> str:
    return plot_text(f"{row.device} · {row.model} · {column_label(row.delegate, row.threads)}")


def forest_figure(rows: list[CellComparison], threshold: float, confidence: float) -> go.Figure:
    """One row per cell (worst on top): the change as a dot, its interval as a bar, the
    ±threshold band behind them and a line at no change."""
    verdicts = [v for v in MARKER_COLOR if any(row.verdict == v for row in rows)]
    figure = go.Figure([verdict_trace(rows, verdict, confidence) for verdict in verdicts])
    figure.add_vrect(x0=-threshold, x1=threshold, fillcolor="#cbd2d9", opacity=0.35, line_width=0)
    figure.add_vline(x=0, line={"color": MUTED_INK, "width": 1})
    names = [cell_name(row) for row in rows]
    figure.update_yaxes(type="category", categoryorder="array", categoryarray=names)
    figure.update_yaxes(autorange="reversed")
    axis_title = "change in median latency (this run / baseline − 1)"
    figure.update_xaxes(tickformat="+.0%", zeroline=False, title_text=axis_title)
    figure.update_xaxes(range=[-1.2 * reach(rows, threshold), 1.2 * reach(rows, threshold)])
    return style_figure(figure, height_px=110 + 26 * len(rows))


def reach(rows: list[CellComparison], threshold: float) -> float:
    """How far from 0 the plot must show: the threshold band and every interval."""
    ends = [abs(v) for row in rows for v in (row.change, row.ci_low, row.ci_high) if v is not None]
    return max([threshold, *ends])


def verdict_trace(rows: list[CellComparison], verdict: str, confidence: float) -> go.Scatter:
    """The cells with one (latency) verdict; a cell without an interval is a bare dot."""
    picked = [row for row in rows if row.verdict == verdict]
    above, below = zip(*(error_bar(row) for row in picked), strict=True)
    return go.Scatter(
        x=[row.change for row in picked], y=[cell_name(row) for row in picked], name=verdict,
        mode="markers",
        marker={"color": MARKER_COLOR[verdict], "size": 9},
        error_x={"type": "data", "symmetric": False, "array": above, "arrayminus": below,
                 "thickness": 2, "width": 4, "color": MARKER_COLOR[verdict]},
        customdata=[forest_hover(row, confidence) for row in picked],
        hovertemplate="%{customdata}<extra></extra>",
    )  # fmt: skip


def error_bar(row: CellComparison) -> tuple[float, float]:
    """How far the interval reaches above and below the change; none without an interval."""
    if row.change is None or row.ci_low is None or row.ci_high is None:
        return 0.0, 0.0
    return row.ci_high - row.change, row.change - row.ci_low


def forest_hover(row: CellComparison, confidence: float) -> str:
    spread = interval(row) or "no interval (no samples kept)"
    return (
        f"{cell_name(row)}<br>{format_ms(row.base_median_ms)} → {format_ms(row.new_median_ms)} "
        f"({format_change(row.change)})<br>{confidence:.0%} interval: {spread}<br>"
        f"verdict: {plot_text(shown_verdict(row))}"
    )
