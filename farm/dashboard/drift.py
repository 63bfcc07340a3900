"""Drift of each fp16 / int8 variant from its fp32 sibling (same family, device, delegate and
threads, same inputs): one table per device, a row per variant, a column per `delegate/tN`."""

from __future__ import annotations

import pandas as pd

from farm.dashboard.cells import Record, cell_ids, ordered_columns, ordered_models, records
from farm.dashboard.markup import Html, element, hint, notice, table, text
from farm.dashboard.units import format_cosine, format_error, format_share, is_missing
from farm.dashboard.view import RunData, Section, per_device
from farm.parity import TOP_K

ANCHOR, TITLE = "drift", "Drift of quantized variants against fp32"
HINT = (
    f"Cosine similarity, top-{TOP_K} agreement and max abs error of each variant's outputs "
    "against its fp32 sibling's on the same inputs, device, delegate and threads. Red: over "
    "the drift tolerance the manifest sets (without one, drift is reported, not gated)."
)
NOTHING = (
    "No fp16 or int8 variant was compared with an fp32 sibling (the drift columns are empty): "
    "drift needs a manifest that names families and variants, and an ok fp32 cell on the same "
    "device, delegate and threads."
)


def section(data: RunData) -> Section:
    """A table per device over the cells with a drift reference."""
    drifted = data.cells[data.cells["drift_reference"].notna().to_numpy(dtype=bool)]
    if drifted.empty:
        return Section(ANCHOR, TITLE, (notice(NOTHING),))
    model_of = dict(zip(cell_ids(data.cells), data.cells["model"].astype(str), strict=True))
    blocks = per_device(drifted, lambda cells: drift_table(cells, model_of))
    return Section(ANCHOR, TITLE, (hint(HINT), *blocks))


def drift_table(cells: pd.DataFrame, model_of: dict[str, str]) -> Html:
    """Rows: variant and the fp32 model it is held to; columns: `delegate/tN`."""
    columns = ordered_columns(cells)
    by_model: dict[str, dict[str, Record]] = {}
    for record in records(cells):  # once per device: a records() per model took 30 s at 27 k cells
        by_model.setdefault(str(record["model"]), {})[record["column"]] = record
    rows = []
    for model in ordered_models(cells):
        by_column = by_model[model]
        references = {str(r["drift_reference"]) for r in by_column.values()}
        siblings = {model_of.get(reference, reference) for reference in references}
        cells_html = [drift_cell(by_column.get(column)) for column in columns]
        rows.append([text(model), text(", ".join(sorted(siblings))), *cells_html])
    return table(("Model", "Against", *columns), rows, cls="drift")


def drift_cell(row: Record | None) -> Html:
    """Three short lines; red with `over tolerance` where the gated drift failed the cell."""
    if row is None:
        return text(None)
    lines = [
        f"cosine {format_cosine(row['drift_cosine'])}",
        f"top-{TOP_K} {format_share(row['drift_topk'])}",
        f"max abs {format_error(row['drift_max_abs'])}",
    ]
    if over_tolerance(row):
        lines.append("over tolerance")
    body = Html("<br>".join(text(line) for line in lines))
    return element("span", body, cls="over") if over_tolerance(row) else body


def over_tolerance(row: Record) -> bool:
    # The orchestrator keeps no drift_ok column: a gated drift failure is a parity failure
    # whose reason names the sibling (`drift from <cell id>: …`, orchestrator/parity_check.py).
    reason = "" if is_missing(row["reason"]) else str(row["reason"])
    return row["failure_kind"] == "parity" and f"drift from {row['drift_reference']}" in reason
