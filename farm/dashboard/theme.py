"""The look of the page: inline CSS (system fonts only, the page must open offline) and the
shared Plotly layout and colours."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

import plotly.colors
import plotly.graph_objects as go
import plotly.io as pio

from farm.dashboard.units import decade_ticks, log_ticks

FONT_STACK = (
    'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif'
)
GAP_COLOR = "#e9ecef"  # plot background: failed and skipped cells show through as gaps
OK_COLOR, FAILED_COLOR = "#2f855a", "#c53030"  # the status badges' colours
DELEGATED_COLOR, CPU_NODES_COLOR = "#2b6cb0", "#c05621"  # both carry white text
MUTED_INK = "#616e7c"

CSS = f"""
:root {{ --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --paper: #f5f7fa;
  --ok: #2f855a; --failed: #c53030; --skipped: #718096; }}
* {{ box-sizing: border-box; }}
body {{ margin: 0; font-family: {FONT_STACK}; color: var(--ink); background: var(--paper);
  line-height: 1.45; font-size: 15px; }}
header {{ background: #102a43; color: #f0f4f8; padding: 20px 32px 16px; }}
header h1 {{ margin: 0 0 8px; font-size: 22px; font-weight: 600; }}
header dl {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr));
  gap: 4px 24px; margin: 0 0 12px; }}
header dt {{ font-size: 12px; color: #9fb3c8; text-transform: uppercase; letter-spacing: .04em; }}
header dd {{ margin: 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }}
header nav a {{ color: #bcccdc; margin-right: 18px; text-decoration: none; }}
header nav a:hover {{ color: #fff; text-decoration: underline; }}
.counts {{ margin: 0 0 12px; display: flex; gap: 8px; flex-wrap: wrap; }}
.badge {{ display: inline-block; padding: 1px 10px; border-radius: 999px; font-size: 13px;
  font-weight: 600; color: #fff; background: var(--skipped); white-space: nowrap; }}
.badge.ok {{ background: var(--ok); }} .badge.failed {{ background: var(--failed); }}
.badge.warn {{ background: #b7791f; }}
.badge.total {{ background: transparent; border: 1px solid #9fb3c8; color: inherit; }}
main {{ max-width: 1400px; margin: 0 auto; padding: 8px 32px 48px; }}
section {{ background: #fff; border: 1px solid var(--line); border-radius: 8px;
  margin: 20px 0; padding: 16px 20px; }}
section h2 {{ margin: 0 0 4px; font-size: 18px; }}
section p.hint {{ margin: 0 0 8px; color: var(--muted); font-size: 13px; }}
h3.device {{ margin: 16px 0 0; font-size: 15px; color: var(--muted); }}
.notice {{ background: #fffbea; border-left: 4px solid #f0b429; padding: 8px 12px; }}
table {{ border-collapse: collapse; width: 100%; font-size: 14px; }}
th, td {{ text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line);
  vertical-align: top; }}
th {{ background: var(--paper); font-weight: 600; }}
td:nth-child(4) {{ font-variant-numeric: tabular-nums; }}
td.reason, .failures td:last-child {{ white-space: pre-wrap; overflow-wrap: anywhere;
  font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12.5px; }}
.devices {{ margin-top: 4px; }}
h3.part {{ margin: 20px 0 4px; font-size: 15px; }}
.over {{ color: var(--failed); font-weight: 600; }}
.good {{ color: var(--ok); font-weight: 600; }}
details {{ margin: 4px 0; }} summary {{ cursor: pointer; font-weight: 600; }}
table.drift td, table.tradeoffs td, table.health td {{ font-variant-numeric: tabular-nums; }}
table.health .badge {{ margin-bottom: 4px; }}
table.health .reason {{ display: block; white-space: pre-wrap; overflow-wrap: anywhere;
  font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12.5px; }}
table.tradeoffs .front {{ font-weight: 600; }}
"""


@functools.cache
def template() -> go.layout.Template:
    """plotly_white's layout only: its per-trace defaults (colour scales for every trace type)
    are three fifths of it, unused here, and copied and validated into every figure."""
    return go.layout.Template(layout=pio.templates["plotly_white"].layout)


# The shared look beside the template and the height (`figure_json.styled` writes it as JSON).
LOOK: dict[str, object] = {
    "font": {"family": FONT_STACK, "size": 13},
    "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
    "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
    "hoverlabel": {"align": "left"},
}


def style_figure(figure: go.Figure, height_px: int) -> go.Figure:
    """Apply the shared look: white template, system fonts, compact margins, legend on top."""
    figure.update_layout(template=template(), height=height_px, **LOOK)
    return figure


def log_axis(title: str, values_ms: Iterable[float]) -> dict[str, object]:
    """A log10 axis labelled in plain numbers at 1, 2, 5 × 10ⁿ over the range of `values_ms`
    (Plotly's own log labels read `2` for 20 and `5` for 0.5)."""
    finite = [v for v in values_ms if math.isfinite(v) and v > 0]
    axis: dict[str, object] = {"type": "log", "title": {"text": title}}
    if finite:
        low, high = min(finite), max(finite)
        ticks = log_ticks(low, high)
        if sum(low <= tick <= high for tick in ticks) < 2:
            # Values within one 1-2-5 step: Plotly's autorange would show no tick at all, so
            # the axis reaches the ticks around them (strictly around: never a zero range).
            ticks = log_ticks(low * 0.99, high * 1.01)
            axis["range"] = [math.log10(ticks[0]), math.log10(ticks[-1])]
        axis["tickvals"] = ticks
    return axis


def error_axis(title: str, floor: float, values: Iterable[float]) -> dict[str, object]:
    """A log10 axis for errors that may be 0: decades labelled `1e-6`, `0.001` …, and `0` at
    `floor` (see `units.zero_floor`), where identical outputs are drawn."""
    finite = [v for v in values if math.isfinite(v) and v > floor]
    ticks = decade_ticks(floor, max(finite, default=floor * 10))
    labels = ["0", *(_decade_label(tick) for tick in ticks[1:])]
    return {"type": "log", "title": {"text": title}, "tickvals": ticks, "ticktext": labels}


def _decade_label(tick: float) -> str:
    power = round(math.log10(tick))
    return f"{tick:g}" if -3 <= power <= 3 else f"1e{power}"


def series_colors(labels: list[str]) -> dict[str, str]:
    """One stable colour per series label (e.g. per `delegate/tN`), shared by all devices."""
    palette = plotly.colors.qualitative.Plotly
    return {label: palette[i % len(palette)] for i, label in enumerate(labels)}
