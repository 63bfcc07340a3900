"""A comparison for people and machines: a rich table, JSON, and Markdown for CI comments.

Rows are shown most serious first (parity broken, slower, NEW infra failures, not comparable,
faster, same). Every user-provided string (device, model, reason) is data, never markup: rich
gets ``Text`` objects, Markdown gets ``|``, newlines and HTML escaped.
"""

from __future__ import annotations

import json
import math
from collections import Counter

from rich.table import Table
from rich.text import Text

from farm.compare.comparison import EXIT_MEANING, CellComparison, Comparison
from farm.compare.severity import count_line, severity, shown_verdict
from farm.errors import EXIT_NOTHING_CHECKED

VERDICT_STYLE = {
    "parity broken": "bold red",
    "slower": "bold red",
    "faster": "green",
    "same": "",
    "not comparable": "yellow",
    "infra failure": "yellow",
}
SHOWN_REASONS = 3
# A terminal table of every cell of a large lab is thousands of lines nobody reads, and rich
# took 5 s to lay out the 2,880 rows of a 2,880-cell comparison: above this many cells the
# table lists the cells that are not "same" and counts the rest.
TABLE_ROWS = 200
UNLISTED = "{n} more cells the same, not listed (--format markdown or json lists every cell)"
_HEADERS = (
    "device",
    "model",
    "delegate",
    "threads",
    "base ms",
    "new ms",
    "change",
)


def to_table(comparison: Comparison) -> Table:
    """The terminal view: one line per cell, worst first, with a one-line summary as title."""
    headers = (*_HEADERS, f"{comparison.confidence:.0%} CI", "verdict", "reason")
    table = Table(*headers, title=summary(comparison), title_justify="left")
    for column in table.columns[3:8]:
        column.justify = "right"
    rows = ordered(comparison.rows)
    listed = rows if len(rows) <= TABLE_ROWS else [r for r in rows if _verdict(r) != "same"]
    for row in listed:
        table.add_row(
            *(Text(cell) for cell in _cells(row)),
            Text(_verdict(row), style=VERDICT_STYLE[_verdict(row)]),
            Text(_reason(row)),
        )
    if len(listed) < len(rows):
        table.caption = UNLISTED.format(n=len(rows) - len(listed))
    return table


def to_json(comparison: Comparison) -> str:
    """Settings, exit code, counts and every row; missing (or non-finite) numbers are null."""
    data = comparison.to_dict()
    data["rows"] = [{k: _finite(v) for k, v in row.items()} for row in data["rows"]]
    return json.dumps(data, indent=2, allow_nan=False)


def from_json(text: str) -> Comparison:
    """The Comparison ``to_json`` wrote (for CI steps that post-process it)."""
    return Comparison.from_dict(json.loads(text))


def to_markdown(comparison: Comparison) -> str:
    """A GitHub-flavoured Markdown comment: summary line, method, table."""
    confidence = f"{comparison.confidence:.0%}"
    lines = [
        f"### farm compare: {summary(comparison)}",
        "",
        f"Change in median latency (NEW / BASE − 1) with its {confidence} confidence interval; "
        f"a cell is slower or faster only when the whole interval is beyond "
        f"±{_threshold(comparison)}.",
        "",
        "| " + " | ".join((*_HEADERS, f"{confidence} CI", "verdict", "reason")) + " |",
        "|---|---|---|--:|--:|--:|--:|--:|---|---|",
    ]
    for row in ordered(comparison.rows):
        verdict = _verdict(row)
        cells = (*_cells(row), f"**{verdict}**" if row.verdict == "slower" else verdict)
        lines.append("| " + " | ".join(map(markdown_escape, (*cells, _reason(row)))) + " |")
    return "\n".join(lines) + "\n"


def summary(comparison: Comparison) -> str:
    shown = [shown_verdict(r.verdict, r.parity_broken, r.infra_failure) for r in comparison.rows]
    counts = count_line(shown) or "no cells"
    code = comparison.exit_code
    threshold = _threshold(comparison)
    why = f" ({_why_nothing(comparison)})" if code == EXIT_NOTHING_CHECKED else ""
    return f"{counts} (threshold ±{threshold}) → exit {code}: {EXIT_MEANING[code]}{why}"


def _why_nothing(comparison: Comparison) -> str:
    """`20 missing in BASE, 17 NEW skipped`: the commonest reasons, without their details."""
    reasons = Counter((row.reason or "no reason").split(":")[0] for row in comparison.rows)
    shown = [f"{n} {reason}" for reason, n in reasons.most_common(SHOWN_REASONS)]
    more = len(reasons) - SHOWN_REASONS
    return ", ".join(shown + ([f"{more} other reasons"] if more > 0 else [])) or "no cells at all"


def ordered(rows: tuple[CellComparison, ...]) -> list[CellComparison]:
    return sorted(rows, key=lambda r: severity(r.verdict, r.parity_broken, r.infra_failure))


def markdown_escape(text: str) -> str:
    """Text safe inside a GFM table cell: no cell breaks, no line breaks, no raw HTML."""
    for raw, escaped in (("\\", "\\\\"), ("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(raw, escaped)
    text = text.replace("|", "\\|").replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\n", "<br>")


def _cells(row: CellComparison) -> tuple[str, ...]:
    return (
        row.device,
        row.model,
        row.delegate,
        str(row.threads),
        _ms(row.base_median_ms),
        _ms(row.new_median_ms),
        _percent(row.change),
        _interval(row.ci_low, row.ci_high),
    )


def _threshold(comparison: Comparison) -> str:
    return f"{comparison.threshold * 100:g}%"


def _finite(value: object) -> object:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _verdict(row: CellComparison) -> str:
    """The verdict a reader sees first, the same word the summary line counts."""
    return shown_verdict(row.verdict, row.parity_broken, row.infra_failure)


def _reason(row: CellComparison) -> str:
    """The reason, led by how NEW's parity failed when that is the verdict."""
    if row.parity_broken and row.parity_class:
        return f"{row.parity_class}: {row.reason}" if row.reason else row.parity_class
    return row.reason or ""


def _ms(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.4g}"


def _percent(value: float | None) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:+.1%}"


def _interval(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return "–"
    return f"{_percent(low)} … {_percent(high)}"
