"""Results on disk: the crash-safe journal, Parquet per run, run.json provenance, loading.

A run directory holds ``journal.jsonl`` (one CellResult per line, appended and fsynced as each
cell finishes), ``results.parquet`` (written at the end, or rebuilt from the journal) and
``run.json`` (provenance: farm version, git commit, host, devices, runtimes, seed).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from farm.errors import ConfigError
from farm.spec import CellKey, CellResult

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

JOURNAL = "journal.jsonl"
RESULTS = "results.parquet"
RUN_INFO = "run.json"


class Journal:
    """Append-only JSON lines; each line is on disk (fsync) before ``append`` returns."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        torn = self.path.exists() and _last_byte(self.path) not in (b"", b"\n")
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - lives with the run
        if torn:  # the last run died mid-line: the next row must not be glued to that fragment
            self._file.write("\n")

    def append(self, result: CellResult) -> None:
        self._file.write(json.dumps(result.to_row(), allow_nan=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _last_byte(path: Path) -> bytes:
    with open(path, "rb") as file:
        file.seek(0, os.SEEK_END)
        if file.tell() == 0:
            return b""
        file.seek(-1, os.SEEK_END)
        return file.read(1)


def read_journal(path: str | Path) -> list[CellResult]:
    """Every complete row; a torn last line (the process died mid-write) is ignored.

    A cell retried in the same run appears once per attempt; the last attempt wins.
    """
    path = Path(path)
    if not path.exists():
        return []
    rows: dict[CellKey, CellResult] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            result = CellResult.from_row(json.loads(line))
        except (ValueError, TypeError):
            continue
        rows[result.key] = result
    return list(rows.values())


def arrow_schema() -> pa.Schema:
    """The results schema, derived from CellResult so the two never drift apart."""
    import pyarrow as pa

    return pa.schema([(f.name, _arrow_type(str(f.type))) for f in dataclasses.fields(CellResult)])


def _arrow_type(annotation: str) -> pa.DataType:
    import pyarrow as pa

    if annotation.startswith("tuple[float"):
        return pa.list_(pa.float64())
    if annotation.startswith("tuple[int"):
        return pa.list_(pa.int64())
    for name, arrow in (("float", pa.float64()), ("bool", pa.bool_()), ("int", pa.int64())):
        if annotation.split(" |")[0] == name:
            return arrow
    return pa.string()


def results_frame(results: Iterable[CellResult]) -> pd.DataFrame:
    """One row per cell, typed by the results schema (nulls stay nulls)."""
    import pyarrow as pa

    table = pa.Table.from_pylist([r.to_row() for r in results], schema=arrow_schema())
    return table.to_pandas(types_mapper=_nullable_types)


def _nullable_types(arrow_type: pa.DataType) -> Any:
    # Keep integer and boolean columns nullable instead of turning a missing value into NaN/0.
    import pandas as pd
    import pyarrow as pa

    return {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}.get(arrow_type)


def write_results(run_dir: str | Path, results: Sequence[CellResult]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(run_dir) / RESULTS
    table = pa.Table.from_pylist([r.to_row() for r in results], schema=arrow_schema())
    pq.write_table(table, str(path) + ".tmp")
    os.replace(str(path) + ".tmp", path)
    return path


def write_run_info(run_dir: str | Path, info: dict[str, Any]) -> Path:
    path = Path(run_dir) / RUN_INFO
    path.write_text(json.dumps(info, indent=2, sort_keys=True, default=str) + "\n")
    return path


def load_run_info(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / RUN_INFO
    return json.loads(path.read_text()) if path.exists() else {}


def load_results(run_dir: str | Path) -> pd.DataFrame:
    """The run's results: results.parquet, or the journal when the run did not finish or its
    results.parquet cannot be read (0 bytes, torn): then rebuilt from the journal, saying so
    on stderr; ConfigError when there is no journal to rebuild from either."""
    import pyarrow as pa

    path = Path(run_dir) / RESULTS
    if not path.exists():
        return results_frame(read_journal(Path(run_dir) / JOURNAL))
    try:
        return read_results_file(path)
    except (OSError, pa.ArrowException) as exc:
        return _rebuilt(Path(run_dir), " ".join(str(exc).split()))


def _rebuilt(run_dir: Path, why: str) -> pd.DataFrame:
    rows = read_journal(run_dir / JOURNAL)
    if not rows:
        raise ConfigError(
            str(run_dir / RESULTS),
            "",
            f"cannot be read ({why}) and {JOURNAL} holds no cell to rebuild it from",
            f"run the cells again: farm run --resume {run_dir}",
        )
    if run_dir.resolve() not in _REBUILT:  # a report reads a run more than once (history)
        _REBUILT.add(run_dir.resolve())
        print(
            f"farm: warning: {run_dir / RESULTS} cannot be read ({why}): "
            f"results rebuilt from {run_dir / JOURNAL} ({len(rows)} cells)",
            file=sys.stderr,
        )
    return results_frame(rows)


_REBUILT: set[Path] = set()  # the runs whose rebuild this process has reported


def read_results_file(path: str | Path) -> pd.DataFrame:
    """A results Parquet file, typed as written (nulls stay nulls)."""
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pandas(types_mapper=_nullable_types)


def run_dirs(reports: str | Path) -> list[Path]:
    """Every run directory under ``reports/runs``, oldest first (run ids sort by time)."""
    root = Path(reports) / "runs"
    found = (
        [p for p in root.iterdir() if (p / JOURNAL).exists() or (p / RESULTS).exists()]
        if root.is_dir()
        else []
    )
    return sorted(found, key=lambda p: p.name)


# Per-iteration lists: the bulk of a results file (a 2,880-cell run with 50 samples a cell is
# 144 k floats) and of no use to a trend, which reads each cell's quantiles.
SAMPLE_COLUMNS = ("samples_ms", "process_samples")


def load_history(
    reports: str | Path, *, up_to: str | None = None, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """All runs' results in one frame, with each run's start time (``run_started_at``): the runs
    whose id is ``up_to`` or older when given; only ``columns`` when given, else every column
    but the per-iteration samples (a trend reads each cell's quantiles, not its samples).

    Finished runs are read as one pyarrow dataset: only those columns, the run id filter pushed
    down to the files, the files in parallel; a run that did not finish, or whose
    results.parquet cannot be read, is rebuilt from its journal as ``load_results`` does.
    """
    import pandas as pd

    wanted = _columns(columns)
    dirs = run_dirs(reports)
    finished = [d for d in dirs if (d / RESULTS).exists()]
    together = _finished_runs(finished, up_to, wanted) if finished else None
    if together is None:  # a file the dataset cannot read: one run at a time, as load_results
        finished = []
    frames = [] if together is None else [together]
    frames += [_one_run(d, up_to, wanted) for d in dirs if d not in finished]
    if not frames:
        return results_frame([])[wanted].assign(run_started_at=None)
    history = pd.concat(frames, ignore_index=True)
    order = history["run_id"].astype(str).to_numpy().argsort(kind="stable")
    return history.iloc[order].reset_index(drop=True)


def _columns(asked: Sequence[str] | None) -> list[str]:
    """The schema's columns asked for (run_id always), or all but the samples."""
    known = [f.name for f in arrow_schema()]
    if asked is None:
        return [name for name in known if name not in SAMPLE_COLUMNS]
    return [name for name in known if name in asked or name == "run_id"]


def _finished_runs(
    run_dirs_: Sequence[Path], up_to: str | None, columns: list[str]
) -> pd.DataFrame | None:
    """The results.parquet of these runs through one pyarrow dataset (a column a run written
    before it existed reads as null); None when a file cannot be read."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.dataset as ds

    started = {str(d / RESULTS): load_run_info(d).get("started_at") for d in run_dirs_}
    wanted = ds.field("run_id") <= up_to if up_to is not None else None
    try:
        dataset = ds.dataset(list(started), schema=arrow_schema(), format="parquet")
        table = dataset.to_table(columns=[*columns, "__filename"], filter=wanted)
    except (OSError, pa.ArrowException):
        return None
    frame = table.drop(["__filename"]).to_pandas(types_mapper=_nullable_types)
    # Each row's file as a number (a year is 1 M rows of 365 names): the start time by lookup.
    files = table.column("__filename").combine_chunks().dictionary_encode()
    starts = np.array([started[name] for name in files.dictionary.to_pylist()], dtype=object)
    return frame.assign(run_started_at=starts[files.indices.to_numpy()])


def _one_run(run_dir: Path, up_to: str | None, columns: list[str]) -> pd.DataFrame:
    frame = load_results(run_dir)[columns]
    if up_to is not None:
        frame = frame[frame["run_id"].astype(str).le(up_to).to_numpy(dtype=bool)]
    return frame.assign(run_started_at=load_run_info(run_dir).get("started_at"))


def last_good_run(reports: str | Path, before: str | None = None) -> Path | None:
    """The newest finished run (results.parquet written) with no failed cell and at least one
    measured, older than the run id ``before`` when given: the baseline a nightly run is
    compared with (a run whose every cell was skipped has nothing to compare with)."""
    for run_dir in reversed(run_dirs(reports)):
        if before is not None and run_dir.name >= before:
            continue
        if not (run_dir / RESULTS).exists():
            continue
        statuses = _statuses(run_dir)
        if "failed" not in statuses and "ok" in statuses:
            return run_dir
    return None


def status_counts(statuses: Iterable[str]) -> dict[str, int]:
    """run.json's `statuses`: how many cells ended with each status, by status name."""
    return dict(sorted(collections.Counter(statuses).items()))


def _statuses(run_dir: Path) -> set[str]:
    """The statuses of a finished run's cells: as run.json counted them (`statuses`), else
    from results.parquet's status column only (the samples are most of the file; a lab whose
    every run has a failed cell is searched back to its first: 364 files took 0.9 s)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    counted = load_run_info(run_dir).get("statuses")
    if isinstance(counted, dict):
        return {status for status, n in counted.items() if n}
    try:
        return set(pq.read_table(run_dir / RESULTS, columns=["status"]).column(0).to_pylist())
    except (OSError, pa.ArrowException):  # torn or empty: rebuilt from the journal
        return set(load_results(run_dir)["status"])
