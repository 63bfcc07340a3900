"""Reading one side of a comparison: a run directory or a results Parquet file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from farm.errors import ConfigError
from farm.spec import CELL_KEY_COLUMNS
from farm.store import JOURNAL, RESULTS, load_results, read_results_file

_FIX = "pass a run directory (reports/runs/<run id>) or its results.parquet"
REQUIRED_COLUMNS = (*CELL_KEY_COLUMNS, "status")


def load_result_set(path: str | Path) -> pd.DataFrame:
    """The results of a run directory (results.parquet, or its journal if it did not finish) or
    of a Parquet results file; ConfigError for anything else."""
    path = Path(path)
    if path.is_dir() and ((path / RESULTS).is_file() or (path / JOURNAL).is_file()):
        frame = load_results(path)
    elif path.is_file() and path.suffix == ".parquet":
        frame = _read(path, read_results_file)
    else:
        raise ConfigError(str(path), "", _what_is_wrong(path), _FIX)
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise ConfigError(str(path), "", f"not a results file: no {', '.join(missing)}", _FIX)
    return frame


def _what_is_wrong(path: Path) -> str:
    if path.is_dir():
        return f"not a run directory: it has neither {RESULTS} nor {JOURNAL}"
    return "not a results file (.parquet)" if path.exists() else "no such run directory or file"


def _read(path: Path, reader: Callable[[Path], pd.DataFrame]) -> pd.DataFrame:
    import pyarrow as pa

    try:
        return reader(path)
    except (OSError, pa.ArrowException) as exc:
        raise ConfigError(str(path), "", f"cannot read as Parquet: {exc}", _FIX) from exc
