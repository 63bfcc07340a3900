"""`farm history`: every run under reports/runs in one frame and one table."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from farm.cli import app
from farm.job import RunRequest, plan_run, run_plan
from farm.store import load_history

from .lab import MODELS


def test_history_lists_every_run_and_follows_one_cell(host_lab: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copyfile(MODELS / "kws_dscnn_int8.tflite", models / "kws.tflite")
    reports = tmp_path / "reports"
    ids = []
    for _ in range(2):
        plan = plan_run(
            RunRequest(
                host_lab,
                models,
                runs=5,
                warmup=1,
                seed=1,
                run_dir=reports / "runs" / f"run{len(ids)}",
            )
        )
        run_plan(plan)
        ids.append(plan.run_id)
    frame = load_history(reports)
    assert sorted(frame.run_id.unique()) == sorted(ids) and len(frame) == 4
    assert frame.run_started_at.notna().all()
    runner = CliRunner(env={"COLUMNS": "200"})
    table = runner.invoke(app, ["history", "--reports", str(reports)])
    assert table.exit_code == 0 and all(run_id in table.output for run_id in ids)
    cell = runner.invoke(
        app, ["history", "--reports", str(reports), "--cell", "host-kws-xnnpack-t1"]
    )
    assert cell.exit_code == 0 and cell.output.count(" ok ") == 2
    assert (reports / "latest.html").exists()
