"""What every view receives (`RunData`) and gives back (`Section`), plus the per-device layout
that most views share. A new view (dashboard v2: parity, coverage, trends …) is a module with
a `section(data) -> Section` function, listed in `page.VIEWS`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Union

import pandas as pd
import plotly.graph_objects as go

from farm.compare.comparison import Comparison
from farm.dashboard.cells import ordered_devices
from farm.dashboard.markup import Html, element, text

FigureDict = dict[str, Any]
"""A figure as Plotly's JSON (`data`, `layout`), drawn without `go.Figure`'s validation: for
figures of hundreds of traces built from values already checked (the trends)."""
Block = Union[Html, go.Figure, FigureDict]


@dataclass(frozen=True)
class RunData:
    """One run as the views see it: prepared cells (see `cells.prepare`) and run.json; for a run
    under reports/runs/ also the results of every run up to this one (`history`, oldest first,
    with `run_started_at`) and the comparison with its `baseline` run (None: no baseline)."""

    cells: pd.DataFrame
    run: Mapping[str, Any]
    history: pd.DataFrame | None = None
    comparison: Comparison | None = None
    baseline: str | None = None


@dataclass(frozen=True)
class Section:
    """One titled part of the page; `anchor` is its id for the table of contents."""

    anchor: str
    title: str
    blocks: tuple[Block, ...]


View = Callable[[RunData], Section]


def per_device(
    cells: pd.DataFrame, block_for: Callable[[pd.DataFrame], Block | list[Block]]
) -> list[Block]:
    """A heading and the block (or blocks) of each device, devices in name order."""
    blocks: list[Block] = []
    for device in ordered_devices(cells):
        found = block_for(cells_of(cells, device))
        blocks += [element("h3", text(device), cls="device"), *as_list(found)]
    return blocks


def recorded_facts(run: Mapping[str, Any], device: str) -> Mapping[str, Any]:
    """What run.json recorded of a device (`devices.<name>`: its description, its cooldown);
    empty when it recorded nothing usable."""
    devices = run.get("devices")
    facts = devices.get(device) if isinstance(devices, Mapping) else None
    return facts if isinstance(facts, Mapping) else {}


def cells_of(cells: pd.DataFrame, device: str) -> pd.DataFrame:
    """One device's rows (the frame itself when it holds no other device: a device page's
    views ask for it again and again, and a copy of 500 rows of 90 columns is not free)."""
    mine = cells["device"].astype(str).eq(device).to_numpy(dtype=bool)
    return cells if mine.all() else cells[mine]


def as_list(found: Block | list[Block]) -> list[Block]:
    return found if isinstance(found, list) else [found]
