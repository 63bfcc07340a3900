"""The results frame as the dashboard reads it: every known column, one row per cell, a
`delegate/tN` column label, whether the cell's latency stands (`timed`) and the speedup against
the cpu cell of the same model, device and threads."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Hashable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from farm.dashboard.units import samples_of
from farm.spec import CELL_KEY_COLUMNS, DELEGATES, CellResult

COLUMNS = tuple(field.name for field in dataclasses.fields(CellResult))
SAMPLE_COLUMNS = ("samples_ms", "process_samples")
BASELINE_DELEGATE = "cpu"

Record = Mapping[Hashable, Any]
"""One cell (one row of the prepared frame) by column name."""


def prepare(results: pd.DataFrame) -> pd.DataFrame:
    """Normalise a results frame for the views (the caller's frame is not modified)."""
    frame = latest_attempts(_with_known_columns(results))
    frame = frame.assign(column=column_labels(frame), timed=timed_mask(frame))
    counts = [len(samples_of(samples)) for samples in frame["samples_ms"]]
    return frame.assign(speedup_vs_cpu=_speedup_vs_cpu(frame), sample_count=counts)


def _with_known_columns(results: pd.DataFrame) -> pd.DataFrame:
    missing = {name: None for name in COLUMNS if name not in results.columns}
    return results.reset_index(drop=True).assign(**missing)


def latest_attempts(frame: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Keep the last attempt of a cell when a retried cell left more than one row (of a cell
    in each run with `by=["run_id"]`); threads as nullable integers."""
    frame = frame.assign(threads=pd.to_numeric(frame["threads"], errors="coerce").astype("Int64"))
    ordered = frame.sort_values("attempt", kind="stable", na_position="first")
    latest = ordered.drop_duplicates([*by, *CELL_KEY_COLUMNS], keep="last")
    return latest.sort_index().reset_index(drop=True)


def column_labels(frame: pd.DataFrame) -> list[str]:
    """Each row's heatmap column (`column_label`), one label per distinct pair."""
    pairs = list(zip(frame["delegate"].tolist(), frame["threads"].tolist(), strict=True))
    labels = {pair: column_label(*pair) for pair in set(pairs)}
    return [labels[pair] for pair in pairs]


def column_label(delegate: object, threads: object) -> str:
    """The heatmap column of a cell: `xnnpack/t2`."""
    thread_text = "?" if pd.isna(threads) else str(threads)  # type: ignore[call-overload]
    return f"{delegate}/t{thread_text}"


def timed_mask(frame: pd.DataFrame) -> np.ndarray:
    """Cells whose latency stands: ok ones, and those that failed parity after they were timed
    (the parity check runs on a finished measurement: the outputs are wrong, the timing is not)."""
    ok = frame["status"].eq("ok").to_numpy(dtype=bool)
    parity = frame["failure_kind"].eq("parity").to_numpy(dtype=bool)
    measured = pd.to_numeric(frame["latency_median_ms"], errors="coerce").notna().to_numpy()
    return ok | (parity & measured)


def _speedup_vs_cpu(frame: pd.DataFrame) -> pd.Series:
    """cpu median / cell median, for timed cells whose cpu cell (same model, device, threads) is
    ok: a cpu cell that failed parity is no baseline."""
    median = pd.to_numeric(frame["latency_median_ms"], errors="coerce")
    ok = frame["status"].eq("ok").to_numpy(dtype=bool)
    baseline_keys = ["device", "model", "threads"]
    is_baseline = ok & frame["delegate"].eq(BASELINE_DELEGATE).to_numpy(dtype=bool)
    baseline = frame.loc[is_baseline, baseline_keys].assign(baseline_ms=median[is_baseline])
    joined = frame[baseline_keys].merge(baseline, on=baseline_keys, how="left")
    speedup = joined["baseline_ms"].to_numpy(dtype=float) / median.to_numpy(dtype=float)
    return pd.Series(np.where(frame["timed"], speedup, np.nan), index=frame.index)


def ok_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """The cells that finished and measured something."""
    return frame[frame["status"].eq("ok").to_numpy(dtype=bool)]


def timed_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """The cells whose latency stands (ok, or timed and then failed parity)."""
    return frame[frame["timed"].to_numpy(dtype=bool)]


def records(frame: pd.DataFrame) -> Sequence[Record]:
    """The rows as mappings, for code that reads one cell at a time; without the per-iteration
    lists (a view that draws samples reads the column). pandas' `to_dict("records")` took
    49 ms for 200 rows of this frame; a dict of all 90 columns per row cost a 27 k-cell report
    4 s for the few columns a view reads; so a row reads its value from its column's `tolist`,
    made the first time any row asks for that column."""
    columns = _Columns(frame)
    return [Row(columns, i) for i in range(len(frame))]


class _Columns:
    """A frame's columns as lists, each made when first read (by any of its rows)."""

    __slots__ = ("_frame", "_lists", "names")

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame
        self._lists: dict[Hashable, list[Any]] = {}
        self.names = [name for name in frame.columns if name not in SAMPLE_COLUMNS]

    def value(self, column: Hashable, row: int) -> Any:
        found = self._lists.get(column)
        if found is None:
            if column in SAMPLE_COLUMNS or column not in self._frame.columns:
                raise KeyError(column)
            found = self._lists[column] = self._frame[column].tolist()
        return found[row]


class Row(Mapping[Hashable, Any]):
    """One row of a frame's `_Columns`."""

    __slots__ = ("_columns", "_row")

    def __init__(self, columns: _Columns, row: int) -> None:
        self._columns, self._row = columns, row

    def __getitem__(self, column: Hashable) -> Any:
        return self._columns.value(column, self._row)

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._columns.names)

    def __len__(self) -> int:
        return len(self._columns.names)


def cell_ids(frame: pd.DataFrame) -> pd.Series:
    """Each row's cell id, `device-model-delegate-tN`, as the results name references."""
    parts = zip(frame["device"], frame["model"], frame["delegate"], frame["threads"], strict=True)
    return pd.Series([f"{d}-{m}-{g}-t{t}" for d, m, g, t in parts], index=frame.index, dtype=object)


def in_model_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by model (natural order), then by column order (cpu first, threads up);
    rows of the same model and column keep their order."""
    models = frame["model"].astype(str).tolist()
    keys = {model: natural_key(model) for model in set(models)}  # once per model, not per row
    key_rank = {key: i for i, key in enumerate(sorted(set(keys.values())))}
    column_rank = {column: i for i, column in enumerate(ordered_columns(frame))}
    by_model = [key_rank[keys[model]] for model in models]
    by_column = [column_rank[column] for column in frame["column"].tolist()]
    return frame.iloc[np.lexsort((by_column, by_model))]  # the last key sorts first


def ordered_devices(frame: pd.DataFrame) -> list[str]:
    return sorted(frame["device"].dropna().astype(str).unique(), key=natural_key)


def ordered_models(frame: pd.DataFrame) -> list[str]:
    return sorted(frame["model"].dropna().astype(str).unique(), key=natural_key)


def natural_key(name: str) -> tuple[str | int, ...]:
    """Sort `model_2` before `model_10`: digit runs compare as numbers."""
    parts = re.split(r"(\d+)", name.lower())
    return tuple(int(part) if i % 2 else part for i, part in enumerate(parts))


def ordered_columns(frame: pd.DataFrame) -> list[str]:
    """Column labels: cpu first, then the other delegates in spec order (others by name),
    threads ascending (unknown last)."""
    columns, delegates, threads = (
        frame[name].tolist() for name in ("column", "delegate", "threads")
    )
    first: dict[str, tuple[Any, Any]] = {}
    for column, pair in zip(columns, zip(delegates, threads, strict=True), strict=True):
        first.setdefault(column, pair)
    return sorted(first, key=lambda column: _column_key(*first[column]))


def _column_key(delegate: Any, threads: Any) -> tuple[int, bool, str, bool, int]:
    """Rank, then delegate and threads with a missing one last (as pandas sorts NaN)."""
    no_delegate, no_threads = pd.isna(delegate), pd.isna(threads)
    return (
        _delegate_rank(delegate), bool(no_delegate), "" if no_delegate else str(delegate),
        bool(no_threads), 0 if no_threads else int(threads),
    )  # fmt: skip


def _delegate_rank(delegate: object) -> int:
    return DELEGATES.index(delegate) if delegate in DELEGATES else len(DELEGATES)
