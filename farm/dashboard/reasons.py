"""Failed and skipped cells grouped by what went wrong: 24 cells that failed the same
pre-flight check are one row with a count and the cells it covers, so the reasons of a large
lab read in a few lines (every cell is still listed in `failures`, further down)."""

from __future__ import annotations

import pandas as pd

from farm.dashboard.cells import cell_ids, natural_key
from farm.dashboard.failures import not_ok, status_badge
from farm.dashboard.markup import Html, hint, notice, table, text
from farm.dashboard.view import RunData, Section

ANCHOR, TITLE = "reasons", "Why cells failed or were skipped"
HEADERS = ("Cells", "Status", "Failure kind", "Reason", "Devices", "Which cells")
SHOWN_CELLS = 8  # named in full; the rest are counted
HINT = (
    "One row per distinct reason, most cells first; each cell is listed under Failed and skipped."
)
GROUP_KEYS = ["status", "failure_kind", "reason"]


def section(data: RunData) -> Section:
    """The grouped table, or a sentence saying every cell finished ok."""
    cells = not_ok(data.cells)
    if cells.empty:
        return Section(ANCHOR, TITLE, (notice("Every cell finished ok."),))
    rows = [group_row(group) for group in groups(cells)]
    return Section(ANCHOR, TITLE, (hint(HINT), table(HEADERS, rows, cls="reasons")))


def groups(cells: pd.DataFrame) -> list[pd.DataFrame]:
    """The cells of each distinct (status, failure kind, reason), largest group first."""
    blank = {key: cells[key].astype(object).where(cells[key].notna(), "") for key in GROUP_KEYS}
    keyed = cells.assign(**blank)
    found = [group for _, group in keyed.groupby(GROUP_KEYS, sort=False, dropna=False)]
    return sorted(found, key=lambda group: -len(group))


def group_row(group: pd.DataFrame) -> list[Html]:
    first = group.iloc[0]
    devices = sorted(group["device"].astype(str).unique(), key=natural_key)
    return [
        text(len(group)),
        status_badge(first["status"]),
        text(first["failure_kind"] or None),
        text(first["reason"] or None),
        text(", ".join(devices)),
        covered(cell_ids(group).tolist()),
    ]


def covered(ids: list[str]) -> Html:
    """The first cells by name, then how many more."""
    shown = ", ".join(ids[:SHOWN_CELLS])
    more = len(ids) - SHOWN_CELLS
    return text(f"{shown} … and {more} more" if more > 0 else shown)
