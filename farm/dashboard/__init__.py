"""Results of one run → one self-contained HTML dashboard that opens offline.

The page is a header plus one section per view (`farm/dashboard/<view>.py`, listed in
`page.VIEWS`); each view turns a `RunData` into a `Section` of HTML fragments and Plotly
figures, and `page` inlines plotly.js once for all of them. pandas and plotly are imported
only when a dashboard is rendered, so `import farm.dashboard` stays light.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas

__all__ = ["render_dashboard", "write_dashboard"]


def render_dashboard(results: pandas.DataFrame, run: Mapping[str, Any]) -> str:
    """Render the dashboard of one run (one row per cell, plus run.json) as an HTML string.

    An empty frame, or one where no cell finished ok, still renders a page that says so.
    """
    from farm.dashboard.page import render_page

    return render_page(results, run)


def write_dashboard(
    results: pandas.DataFrame, run: Mapping[str, Any], path: str | os.PathLike[str]
) -> pathlib.Path:
    """Write the dashboard to `path` (parent folders are created) and return the path."""
    target = pathlib.Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_dashboard(results, run), encoding="utf-8")
    return target
