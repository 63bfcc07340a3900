"""`farm history`: every run under reports/runs in one frame and one table."""

from __future__ import annotations

from pathlib import Path

from farm.job import run_plan
from farm.store import load_history

from .lab import farm, model_folder_with, plan_lab


def test_history_lists_every_run_and_follows_one_cell(host_lab: Path, tmp_path: Path) -> None:
    models = model_folder_with(tmp_path, "kws_dscnn_int8", name="kws")
    reports = tmp_path / "reports"
    ids = []
    for _ in range(2):
        run_dir = reports / "runs" / f"run{len(ids)}"
        plan = plan_lab(host_lab, models, runs=5, warmup=1, seed=1, run_dir=run_dir)
        run_plan(plan)
        ids.append(plan.run_id)
    frame = load_history(reports)
    assert sorted(frame.run_id.unique()) == sorted(ids) and len(frame) == 4
    assert frame.run_started_at.notna().all()
    table_code, table = farm("history", "--reports", reports)
    assert table_code == 0 and all(run_id in table for run_id in ids)
    cell_code, cell = farm("history", "--reports", reports, "--cell", "host-kws-xnnpack-t1")
    assert cell_code == 0 and cell.count(" ok ") == 2
    assert (reports / "latest.html").exists()
