"""The failed and skipped cells as an HTML table, with the reason the farm recorded."""

from __future__ import annotations

import pandas as pd

from farm.dashboard.cells import Record, natural_key, records
from farm.dashboard.markup import Html, element, notice, table, text
from farm.dashboard.view import RunData, Section
from farm.spec import CELL_KEY_COLUMNS

ANCHOR, TITLE = "failures", "Failed and skipped cells"
HEADERS = ("Device", "Model", "Delegate", "Threads", "Status", "Failure kind", "Reason")
STATUS_ORDER = {"failed": 0, "skipped": 1}


def section(data: RunData) -> Section:
    """The table, or a sentence saying every cell finished ok."""
    cells = not_ok(data.cells)
    if cells.empty:
        return Section(ANCHOR, TITLE, (notice("Every cell finished ok."),))
    rows = [table_row(record) for record in records(cells)]
    return Section(ANCHOR, TITLE, (table(HEADERS, rows, cls="failures"),))


def not_ok(cells: pd.DataFrame) -> pd.DataFrame:
    """Cells whose status is not ok, failed first, then by device, model, delegate, threads."""
    rest = cells[~cells["status"].eq("ok").to_numpy(dtype=bool)]
    order = rest.assign(status_rank=rest["status"].map(STATUS_ORDER).fillna(len(STATUS_ORDER)))
    return order.sort_values(["status_rank", *CELL_KEY_COLUMNS], key=_sort_key)


def _sort_key(column: pd.Series) -> pd.Series:
    if column.name in ("status_rank", "threads"):
        return column
    return column.astype(str).map(natural_key)


def table_row(record: Record) -> list[Html]:
    return [
        *(text(record[field]) for field in CELL_KEY_COLUMNS),
        status_badge(record["status"]),
        text(record["failure_kind"]),
        text(record["reason"]),
    ]


def status_badge(status: object) -> Html:
    known = status if status in STATUS_ORDER else "unknown"
    return element("span", text(status), cls=f"badge {known}")
