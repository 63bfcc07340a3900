"""A run that is interrupted or killed keeps every finished cell, and resumes the rest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from farm.cli import app
from farm.config import load_models
from farm.store import read_journal

from .lab import MODELS, wait_for

CELLS = len(load_models(MODELS)) * 2  # host_lab: cpu and xnnpack, one thread count


def start_run(host_lab: Path, run_dir: Path) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable,
        "-c",
        "from farm.cli import main; main()",
        "run",
        "--devices",
        str(host_lab),
        "--models",
        str(MODELS),
        "--run-dir",
        str(run_dir),
        "--runs",
        "400",
        "--seed",
        "7",
        "--retries",
        "0",
        "--lock-timeout",
        "30",
    ]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def journal_rows(run_dir: Path) -> int:
    path = run_dir / "journal.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def resume(run_dir: Path) -> int:
    return CliRunner().invoke(app, ["run", "--resume", str(run_dir)]).exit_code


def started_at(run_dir: Path) -> dict[tuple[str, str, str, int], str | None]:
    return {row.key: row.started_at for row in read_journal(run_dir / "journal.jsonl")}


def test_sigkill_loses_no_finished_cell_and_resume_runs_only_the_rest(
    host_lab: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    process = start_run(host_lab, run_dir)
    wait_for(lambda: journal_rows(run_dir) >= 3, "three finished cells", timeout_s=120)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    lines = (run_dir / "journal.jsonl").read_text().splitlines()
    before = started_at(run_dir)
    assert all(json.loads(line) for line in lines) and 3 <= len(before) < CELLS
    assert resume(run_dir) == 0
    after = started_at(run_dir)
    assert len(after) == CELLS
    assert all(after[key] == when for key, when in before.items())  # not run again
    frame = pd.read_parquet(run_dir / "results.parquet")
    assert len(frame) == CELLS and set(frame.status) == {"ok"}
    settings = json.loads((run_dir / "run.json").read_text())["settings"]
    assert (settings["retries"], settings["lock_timeout_s"]) == (0, 30)  # resumed as given


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigint_or_sigterm_writes_what_it_has_and_exits_130_or_143(
    host_lab: Path, tmp_path: Path, signum: signal.Signals, code: int
) -> None:
    run_dir = tmp_path / "run"
    process = start_run(host_lab, run_dir)
    wait_for(lambda: journal_rows(run_dir) >= 2, "two finished cells", timeout_s=120)
    process.send_signal(signum)
    assert process.wait(timeout=120) == code
    frame = pd.read_parquet(run_dir / "results.parquet")
    assert 2 <= len(frame) < CELLS and set(frame.status) == {"ok"}
    assert (run_dir / "dashboard.html").exists()
    assert resume(run_dir) == 0
    assert len(pd.read_parquet(run_dir / "results.parquet")) == CELLS


def test_resume_of_a_folder_that_is_no_run_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "--resume", str(tmp_path)])
    assert result.exit_code == 2 and "plan.json" in result.output
    assert not os.listdir(tmp_path)
