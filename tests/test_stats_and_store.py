"""Latency statistics and the results store (journal, Parquet, torn lines)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from farm.orchestrator import new_run_id
from farm.spec import RESULT_COLUMNS, CellResult
from farm.stats import summarize_latency
from farm.store import (
    Journal,
    last_good_run,
    load_results,
    read_journal,
    results_frame,
    write_results,
    write_run_info,
)


def test_statistics_match_numpy_on_the_samples() -> None:
    samples = list(np.random.default_rng(3).gamma(4.0, 0.5, size=301))
    stats = summarize_latency(samples)
    assert stats["latency_median_ms"] == pytest.approx(float(np.median(samples)))
    assert stats["latency_p95_ms"] == pytest.approx(float(np.percentile(samples, 95)))
    assert stats["latency_std_ms"] == pytest.approx(float(np.std(samples, ddof=1)))
    assert stats["latency_min_ms"] == min(samples)


def test_no_samples_means_every_statistic_is_missing_not_zero() -> None:
    assert set(summarize_latency([]).values()) == {None}
    assert summarize_latency([2.0])["latency_std_ms"] is None


def result(delegate: str, status: str = "ok", **values: object) -> CellResult:
    return CellResult("run", "host", "m", delegate, 1, status, "ab" * 32, **values)  # type: ignore[arg-type]


def test_journal_rows_survive_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    with Journal(path) as journal:
        journal.append(result("cpu", samples_ms=(1.0, 2.0)))
        journal.append(result("xnnpack"))
    with open(path, "a") as fh:
        fh.write('{"run_id": "run", "device": "ho')  # the process died mid-write
    rows = read_journal(path)
    assert [r.delegate for r in rows] == ["cpu", "xnnpack"]
    assert rows[0].samples_ms == (1.0, 2.0)


def test_a_journal_reopened_after_a_torn_line_loses_no_later_row(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    with Journal(path) as journal:
        journal.append(result("cpu"))
    with open(path, "a") as fh:
        fh.write('{"run_id": "run", "device": "ho')  # died mid-write; --resume reopens it
    with Journal(path) as journal:
        journal.append(result("xnnpack"))
    assert [r.delegate for r in read_journal(path)] == ["cpu", "xnnpack"]
    with Journal(path):  # a whole last line: nothing added
        pass
    assert path.read_text().endswith("}\n") and "\n\n" not in path.read_text()


def test_a_retried_cell_keeps_its_last_attempt(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    with Journal(path) as journal:
        journal.append(result("cpu", attempt=1, status="failed"))
        journal.append(result("cpu", attempt=2))
    (row,) = read_journal(path)
    assert (row.attempt, row.status) == (2, "ok")


def test_parquet_keeps_nulls_as_nulls_and_every_column(tmp_path: Path) -> None:
    rows = [
        result("cpu", latency_median_ms=1.5, nodes_total=7, samples_ms=(1.5,)),
        CellResult("run", "host", "m", "gpu", 1, "skipped", "ab" * 32, reason="no gpu"),
    ]
    write_results(tmp_path, rows)
    frame = load_results(tmp_path)
    assert tuple(frame.columns) == RESULT_COLUMNS
    skipped = frame[frame.delegate == "gpu"].iloc[0]
    assert skipped["latency_median_ms"] is None or np.isnan(skipped["latency_median_ms"])
    assert str(skipped["nodes_total"]) == "<NA>"
    assert list(frame[frame.delegate == "cpu"].iloc[0]["samples_ms"]) == [1.5]


def test_an_unfinished_run_loads_from_its_journal(tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.jsonl") as journal:
        journal.append(result("cpu", latency_median_ms=2.0))
    frame = load_results(tmp_path)
    assert frame.iloc[0]["latency_median_ms"] == 2.0
    assert results_frame([]).empty


def test_journal_lines_are_plain_json(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.jsonl") as journal:
        journal.append(result("cpu"))
    row = json.loads((tmp_path / "j.jsonl").read_text())
    assert row["status"] == "ok" and row["latency_median_ms"] is None


def test_run_ids_of_runs_started_within_one_second_sort_in_start_order() -> None:
    first = dt.datetime(2026, 11, 23, 13, 15, 47, 120_000, tzinfo=dt.timezone.utc)
    ids = [new_run_id(first + dt.timedelta(milliseconds=ms)) for ms in (0, 1, 870)]

    assert ids == sorted(ids) and len(set(ids)) == 3
    assert ids[0].startswith("20261123T131547120Z-")


def test_a_non_finite_metric_is_null_in_the_journal_and_in_the_parquet_alike(
    tmp_path: Path,
) -> None:
    broken = result("gpu", parity_max_abs=float("nan"), parity_cosine=float("inf"))
    with Journal(tmp_path / "journal.jsonl") as journal:
        journal.append(broken)  # json.dumps(allow_nan=False) would raise on a NaN
    (journaled,) = read_journal(tmp_path / "journal.jsonl")
    write_results(tmp_path, [broken])
    stored = load_results(tmp_path).iloc[0]
    assert journaled.parity_max_abs is None and journaled.parity_cosine is None
    table = pq.read_table(tmp_path / "results.parquet", columns=["parity_max_abs"])
    assert table.column("parity_max_abs").null_count == 1  # null, not a NaN value
    assert pd.isna(stored.parity_cosine)


def test_the_last_good_run_is_found_from_run_json_counts_or_from_the_results(
    tmp_path: Path,
) -> None:
    """run.json's `statuses` say whether a run was good without opening its results; a run
    written before run.json counted them is read from its status column."""
    runs = tmp_path / "reports" / "runs"
    older, good, counted_bad, uncounted_bad = (runs / f"2026010{n}T000000Z" for n in range(4))
    for run_dir, statuses in [
        (older, ["ok"]), (good, ["ok", "skipped"]), (counted_bad, ["ok", "failed"]),
        (uncounted_bad, ["failed", "ok"]),
    ]:  # fmt: skip
        run_dir.mkdir(parents=True)
        write_results(run_dir, [result(f"d{i}", status) for i, status in enumerate(statuses)])
    write_run_info(counted_bad, {"statuses": {"failed": 1, "ok": 1}})
    write_run_info(good, {"statuses": {"ok": 1, "skipped": 1}})

    assert last_good_run(tmp_path / "reports") == good
    write_run_info(good, {"statuses": {"failed": 1, "ok": 1}})  # the counts are what is read
    assert last_good_run(tmp_path / "reports") == older
