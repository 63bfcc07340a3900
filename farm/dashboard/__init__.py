"""Results of one run → one self-contained HTML dashboard that opens offline.

The page is a header plus one section per view (`farm/dashboard/<view>.py`, listed in
`page.VIEWS`); each view turns a `RunData` into a `Section` of HTML fragments and Plotly
figures, and `page` inlines plotly.js once for all of them. pandas and plotly are imported
only when a dashboard is rendered, so `import farm.dashboard` stays light.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas

    from farm.compare.comparison import Comparison

__all__ = [
    "HISTORY_COLUMNS", "PageProgress", "copy_dashboard", "render_dashboard", "write_dashboard",
]  # fmt: skip

PageProgress = Callable[[str, int, int], None]
"""Told `(device, done, total)` as each device page of a large run is written."""

# What the dashboard reads of every earlier run (`farm.store.load_history(columns=...)`): each
# cell's key, how it ended, its quantiles and its runner (a native and a Python-runner cell are
# two trend lines); never the per-iteration samples.
HISTORY_COLUMNS = (
    "run_id", "device", "model", "delegate", "threads", "status", "failure_kind", "attempt",
    "latency_median_ms", "latency_p5_ms", "latency_p95_ms", "runner",
)  # fmt: skip


def render_dashboard(
    results: pandas.DataFrame,
    run: Mapping[str, Any],
    *,
    history: pandas.DataFrame | None = None,
    comparison: Comparison | None = None,
    baseline: str | None = None,
) -> str:
    """Render the dashboard of one run (one row per cell, plus run.json) as an HTML string.

    `history` (every run up to this one, oldest first, as `farm.store.load_history` gives it)
    feeds the trends view; `comparison` (a `farm.compare.Comparison` against the run named
    `baseline`) the compare view. Without them those views say what is missing. An empty frame,
    or one where no cell finished ok, still renders a page that says so.
    """
    from farm.dashboard.cells import prepare
    from farm.dashboard.page import render_page
    from farm.dashboard.view import RunData

    return render_page(RunData(prepare(results), run, history, comparison, baseline))


def write_dashboard(
    results: pandas.DataFrame,
    run: Mapping[str, Any],
    path: str | os.PathLike[str],
    *,
    history: pandas.DataFrame | None = None,
    comparison: Comparison | None = None,
    baseline: str | None = None,
    progress: PageProgress | None = None,
    workers: int = 1,
) -> pathlib.Path:
    """Write the dashboard to `path` (parent folders are created) and return the path.

    A run of more than `split.SPLIT_CELLS` cells gets a summary page at `path` and a page per
    device beside it (`<stem>-devices/`), written by `workers` processes (1: this one alone);
    `progress(device, done, total)` hears of each."""
    from farm.dashboard.cells import prepare
    from farm.dashboard.page import render_page
    from farm.dashboard.split import SPLIT_CELLS, write_pages
    from farm.dashboard.view import RunData

    target = pathlib.Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = RunData(prepare(results), run, history, comparison, baseline)
    if len(data.cells) > SPLIT_CELLS:
        return write_pages(data, target, progress, workers)
    target.write_text(render_page(data), encoding="utf-8")
    return target


def copy_dashboard(page: str | os.PathLike[str], to: str | os.PathLike[str]) -> pathlib.Path:
    """Copy a written dashboard elsewhere (`reports/latest.html`); the links of a summary page
    to its device pages (`<stem>-devices/`) are made relative to the copy."""
    source, target = pathlib.Path(page), pathlib.Path(to)
    html = source.read_text(encoding="utf-8")
    from farm.dashboard.split import devices_folder

    folder = devices_folder(source)
    if folder.is_dir():
        relative = pathlib.Path(os.path.relpath(folder, target.parent)).as_posix()
        html = html.replace(f'href="{folder.name}/', f'href="{relative}/')
    target.write_text(html, encoding="utf-8")
    return target
