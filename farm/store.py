"""Results on disk: the crash-safe journal, Parquet per run, run.json provenance, loading.

A run directory holds ``journal.jsonl`` (one CellResult per line, appended and fsynced as each
cell finishes), ``results.parquet`` (written at the end, or rebuilt from the journal) and
``run.json`` (provenance: farm version, git commit, host, devices, runtimes, seed).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from farm.errors import ConfigError
from farm.spec import CellResult

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
        self._file.write(json.dumps(_json_safe(result.to_row()), allow_nan=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _json_safe(row: dict[str, Any]) -> dict[str, Any]:
    """NaN and Inf (a metric of outputs gone non-finite) as null: JSON has no word for them,
    and one model's outputs must not stop the journal. The parity class says what they were."""
    return {key: None if _non_finite(value) else value for key, value in row.items()}


def _non_finite(value: object) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


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
    rows: dict[tuple[str, str, str, int], CellResult] = {}
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


def load_history(reports: str | Path) -> pd.DataFrame:
    """All runs' results in one frame, with each run's start time (``run_started_at``)."""
    import pandas as pd

    frames = []
    for run_dir in run_dirs(reports):
        frame = load_results(run_dir)
        frame["run_started_at"] = load_run_info(run_dir).get("started_at")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else results_frame([])


def last_good_run(reports: str | Path, before: str | None = None) -> Path | None:
    """The newest finished run (results.parquet written) with no failed cell and at least one
    measured, older than the run id ``before`` when given: the baseline a nightly run is
    compared with (a run whose every cell was skipped has nothing to compare with)."""
    for run_dir in reversed(run_dirs(reports)):
        if before is not None and run_dir.name >= before:
            continue
        if not (run_dir / RESULTS).exists():
            continue
        statuses = set(load_results(run_dir)["status"])
        if "failed" not in statuses and "ok" in statuses:
            return run_dir
    return None
