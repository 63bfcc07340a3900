"""The answer in ten seconds, at the top of the page: on each device, for each model, the
fastest `delegate/tN` whose outputs passed parity, and its speedup against cpu. A faster cell
that failed parity is named beside it (✗): it is the trap the table is there to show.

One line per device (the delegate that wins most models, its median speedup), with the
per-model table folded under it, so a lab of 50 devices still reads at a glance."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from farm.dashboard.cells import (
    BASELINE_DELEGATE,
    Record,
    natural_key,
    ordered_devices,
    records,
    timed_cells,
)
from farm.dashboard.markup import Html, element, hint, notice, table, text
from farm.dashboard.units import format_ms, format_speedup, is_missing
from farm.dashboard.view import RunData, Section, cells_of

ANCHOR, TITLE = "answer", "Fastest correct delegate per device and model"
HINT = (
    "For each model on each device: the fastest delegate/threads whose outputs passed parity "
    "(✓), its median and its speedup against the cpu cell of the same threads (TFLite's builtin "
    "kernels); ✗ names a faster cell whose outputs failed parity. Open a device for its models."
)
HEADERS = ("Model", "Fastest correct", "Median", "× vs cpu", "Faster but wrong")
OPEN_DEVICES = 2  # a lab this small shows its per-model tables unfolded
DEVICE_HEADERS = ("Device", "Wins most models", "Median × vs cpu", "Models", "Failed parity")


def section(data: RunData) -> Section:
    """A line per device, each with its per-model table folded under it."""
    timed = timed_cells(data.cells)
    if timed.empty:
        return Section(ANCHOR, TITLE, (notice("No cell finished ok: no delegate to recommend."),))
    names = ordered_devices(timed)
    devices = [device_answer(cells_of(timed, name), len(names) <= OPEN_DEVICES) for name in names]
    rows = [row for row, _ in devices]
    folded = [details for _, details in devices]
    return Section(ANCHOR, TITLE, (hint(HINT), table(DEVICE_HEADERS, rows, cls="answer"), *folded))


def winners(cells: pd.DataFrame) -> pd.DataFrame:
    """Per model: the fastest ok cell (`best`), and the fastest timed cell that failed parity
    when it is faster still (`trap`, else None)."""
    median = pd.to_numeric(cells["latency_median_ms"], errors="coerce")
    ranked = cells.assign(rank_ms=median).sort_values("rank_ms", kind="stable")
    ranked = ranked[ranked["rank_ms"].notna().to_numpy(dtype=bool)]
    right = ranked["status"].eq("ok").to_numpy(dtype=bool)
    ok, wrong = ranked[right], ranked[~right]
    best = {str(r["model"]): r for r in records(ok.drop_duplicates("model"))}
    trap = {str(r["model"]): r for r in records(wrong.drop_duplicates("model"))}
    rows = []
    for model in sorted(best.keys() | trap.keys(), key=natural_key):
        win, wrong_cell = best.get(model), trap.get(model)
        faster = wrong_cell is not None and (win is None or wrong_cell["rank_ms"] < win["rank_ms"])
        rows.append({"model": model, "best": win, "trap": wrong_cell if faster else None})
    return pd.DataFrame(rows, columns=["model", "best", "trap"])


def device_answer(cells: pd.DataFrame, unfolded: bool) -> tuple[list[Html], Html]:
    """The device's summary row and its per-model table, folded unless `unfolded`."""
    device = str(cells["device"].iloc[0])
    found = winners(cells)
    best = [b for b in found["best"] if b is not None]
    wins = Counter(str(b["column"]) for b in best).most_common(1)
    speedups = [b["speedup_vs_cpu"] for b in best if not is_missing(b["speedup_vs_cpu"])]
    traps = int(cells["failure_kind"].eq("parity").sum())
    row = [
        text(device),
        text(f"{wins[0][0]} ({wins[0][1]} of {len(found)})" if wins else None),
        text(format_speedup(float(np.median(speedups))) if speedups else None),
        text(len(found)),
        element("span", text(f"✗ {traps}"), cls="over") if traps else text("✓ none"),
    ]
    rows = [model_row(r) for r in records(found)]
    summary = element("summary", text(f"{device}: every model"))
    body = summary + table(HEADERS, rows, cls="answer-models")
    return row, Html(f"<details{' open' if unfolded else ''}>{body}</details>")


def model_row(found: Record) -> list[Html]:
    best, trap = found["best"], found["trap"]
    trap_html = (
        element("span", text(f"✗ {trap['column']} {format_ms(trap['rank_ms'])}"), cls="over")
        if trap is not None
        else text("")
    )
    if best is None:
        return [text(found["model"]), text("none passed parity"), text(None), text(None), trap_html]
    return [
        text(found["model"]),
        element("span", text(f"✓ {best['column']}"), cls="good"),
        text(format_ms(best["rank_ms"])),
        text(speedup(best)),
        trap_html,
    ]


def speedup(best: Record) -> str | None:
    if best["delegate"] == BASELINE_DELEGATE:
        return "cpu is fastest"
    return None if is_missing(best["speedup_vs_cpu"]) else format_speedup(best["speedup_vs_cpu"])
