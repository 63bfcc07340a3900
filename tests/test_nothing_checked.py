"""A run that measured nothing and a comparison that compared nothing do not pass (exit 6), and
a run whose results.parquet was lost is read back from its journal; real LiteRT runs of a
shipped model through the CLI (issue 19)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from farm.errors import EXIT_NOTHING_CHECKED
from farm.store import last_good_run

from .lab import KWS, farm, model_folder_with

FAST = ["--runs", "5", "--warmup", "1", "--seed", "3", "--order", "as-listed"]


def run(host_lab: Path, models: Path, run_dir: Path, *args: str) -> tuple[int, str]:
    return farm(
        "run", "--devices", host_lab, "--models", models, "--run-dir", run_dir, *FAST, *args
    )


def test_a_run_whose_every_cell_was_skipped_exits_6_saying_why(
    host_lab: Path, tmp_path: Path
) -> None:
    models = model_folder_with(tmp_path, KWS)
    code, output = run(host_lab, models, tmp_path / "run", "--delegates", "gpu")
    assert code == EXIT_NOTHING_CHECKED, output
    assert "host does not list delegate gpu" in output
    assert "nothing measured: all 1 cells were skipped" in output
    frame = pd.read_parquet(tmp_path / "run" / "results.parquet")  # the skips are still results
    assert list(frame.status) == ["skipped"]


def test_a_run_that_measured_nothing_is_no_baseline_for_a_nightly(
    host_lab: Path, tmp_path: Path
) -> None:
    models, reports = model_folder_with(tmp_path, KWS), tmp_path / "reports"
    skipped, measured = reports / "runs" / "20260101T000001Z", reports / "runs" / "20260101T000000Z"
    assert run(host_lab, models, measured, "--delegates", "cpu")[0] == 0
    assert run(host_lab, models, skipped, "--delegates", "gpu")[0] == EXIT_NOTHING_CHECKED
    assert last_good_run(reports) == measured  # the newer run measured nothing


def test_a_dry_run_that_would_measure_nothing_exits_6(host_lab: Path, tmp_path: Path) -> None:
    models = model_folder_with(tmp_path, KWS)
    code, output = run(host_lab, models, tmp_path / "run", "--delegates", "gpu", "--dry-run")
    assert code == EXIT_NOTHING_CHECKED and "nothing would be measured" in output
    assert not (tmp_path / "run").exists()


def test_comparing_runs_with_no_cell_in_common_exits_6(host_lab: Path, tmp_path: Path) -> None:
    base, new = tmp_path / "base", tmp_path / "new"
    assert run(host_lab, model_folder_with(tmp_path, KWS), base, "--delegates", "cpu")[0] == 0
    assert run(host_lab, model_folder_with(tmp_path, KWS), new, "--delegates", "xnnpack")[0] == 0
    code, output = farm("compare", base, new)
    output = " ".join(output.split())  # the summary is the table's title: rich wraps it
    assert code == EXIT_NOTHING_CHECKED, output
    assert "2 not comparable (threshold" in output and "0 slower" not in output
    assert "exit 6: nothing compared, no cell was measured in both runs" in output
    assert "1 missing in BASE" in output and "1 missing in NEW" in output
    same_code, same_output = farm("compare", base, base)
    assert same_code == 0, same_output


def test_help_lists_exit_6() -> None:
    for command, says in (("run", "6: nothing measured"), ("compare", "6: nothing compared")):
        code, output = farm(command, "--help")
        assert code == 0 and says in " ".join(output.replace("│", " ").split())


def test_a_lost_results_file_is_rebuilt_from_the_journal(host_lab: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "reports" / "runs" / "20260101T000000Z"  # reports read it twice
    assert run(host_lab, model_folder_with(tmp_path, KWS), run_dir)[0] == 0
    (run_dir / "results.parquet").write_bytes(b"")
    (run_dir / "dashboard.html").unlink()
    code, output = farm("report", run_dir)
    assert code == 0, output
    assert f"{run_dir / 'results.parquet'} cannot be read" in output
    assert output.count(f"results rebuilt from {run_dir / 'journal.jsonl'} (2 cells)") == 1
    html = (run_dir / "dashboard.html").read_text()
    assert "No cell finished ok" not in html and "kws_dscnn_int8" in html
    (run_dir / "results.parquet").write_bytes(b"PAR1 torn")
    code, output = farm("compare", run_dir, run_dir)
    assert code == 0 and "2 same" in output


def test_a_lost_results_file_without_a_journal_is_one_line(host_lab: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert run(host_lab, model_folder_with(tmp_path, KWS), run_dir)[0] == 0
    (run_dir / "results.parquet").write_bytes(b"")
    (run_dir / "journal.jsonl").unlink()
    for command in (("report", run_dir), ("compare", run_dir, run_dir)):
        code, output = farm(*command)
        assert code == 2, output
        lines = output.strip().splitlines()
        assert len(lines) == 1 and "results.parquet: cannot be read" in lines[0]
        assert f"farm run --resume {run_dir}" in lines[0]
