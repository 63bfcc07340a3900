"""`farm run` end to end on this host: real LiteRT, real shipped models, real files written."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import pandas as pd
import pytest

from farm.config import load_models
from farm.store import read_journal

from .lab import MODELS, farm

FAST = ["--runs", "5", "--warmup", "1", "--seed", "3"]


def test_a_run_on_the_shipped_manifest_measures_every_cell(host_lab: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    code, output = farm(
        "run", "--devices", host_lab, "--models", MODELS, "--run-dir", run_dir, *FAST
    )
    assert code == 0, output
    frame = pd.read_parquet(run_dir / "results.parquet")
    models = load_models(MODELS)
    assert len(frame) == len(models) * 2
    assert set(frame.status) == {"ok"}
    assert (frame.samples_ms.map(len) >= 5).all()
    assert (frame.latency_p5_ms <= frame.latency_median_ms).all()
    assert (frame.latency_median_ms <= frame.latency_p95_ms).all()
    assert set(frame.runtime) == {"ai_edge_litert"}
    assert dict(zip(frame.model, frame.model_sha256, strict=True)) == {
        m.name: m.sha256 for m in models
    }
    assert frame.init_ms.notna().all() and frame.peak_rss_mb.gt(0).all()
    run_info = json.loads((run_dir / "run.json").read_text())
    assert run_info["seed"] == 3 and "host" in run_info["devices"]
    assert run_info["executor"] == {"kind": "local", "host": platform.node()}
    assert run_info["runtimes"] == [f"ai_edge_litert {frame.runtime_version.iloc[0]}"]
    assert run_info["statuses"] == {"ok": len(frame)}  # what finding the last good run reads
    assert len(read_journal(run_dir / "journal.jsonl")) == len(frame)
    assert frame.parity_ok.all() and frame.parity_cosine.notna().all()
    assert frame.nodes_total.gt(0).all() and frame.partitions.notna().all()
    xnnpack = frame[frame.delegate == "xnnpack"]
    assert (xnnpack.nodes_delegated > 0).all()
    assert frame[frame.model_variant != "fp32"].drift_cosine.notna().all()
    assert (run_dir / "dashboard.html").stat().st_size > 100_000


def test_a_missing_models_path_exits_2(host_lab: Path, tmp_path: Path) -> None:
    code, output = farm("run", "--devices", host_lab, "--models", tmp_path / "nope")
    assert code == 2 and "no such file or folder" in output


def test_dry_run_lists_cells_and_runs_nothing(
    host_lab: Path, model_folder: Path, tmp_path: Path
) -> None:
    code, output = farm(
        "run",
        "--devices",
        host_lab,
        "--models",
        model_folder,
        "--delegates",
        "cpu,gpu",
        "--dry-run",
        "--run-dir",
        tmp_path / "r",
    )
    assert code == 0
    assert "does not list delegate gpu" in output
    assert not (tmp_path / "r").exists()


def test_report_rewrites_the_dashboard_of_a_run(
    host_lab: Path, model_folder: Path, tmp_path: Path
) -> None:
    farm(
        "run", "--devices", host_lab, "--models", model_folder, "--run-dir", tmp_path / "run", *FAST
    )
    out = tmp_path / "again.html"
    code, _ = farm("report", tmp_path / "run", "--out", out)
    assert code == 0 and "plotly" in out.read_text()


def test_devices_lists_the_lab_and_prints_a_schema(host_lab: Path) -> None:
    code, output = farm("devices", "--devices", host_lab)
    assert code == 0 and "host" in output and "cpu, xnnpack" in output
    code, output = farm("devices", "--schema")
    assert code == 0 and json.loads(output)["title"] == "DevicesFile"


def test_every_command_has_help() -> None:
    for command in ("run", "report", "devices", "models"):
        code, output = farm(command, "--help")
        assert code == 0 and "Usage" in output


@pytest.mark.parametrize("command", [["run"], ["nightly"], ["devices"], ["sim", "up"]])
def test_flags_in_help_take_no_value(command: list[str]) -> None:
    code, output = farm(*command, "--help")
    assert code == 0 and "--help" in output
    assert "<bool>" not in output  # `--dry-run <bool>` reads as if it took a value


def test_resume_plans_again_from_a_plan_json_that_lacks_later_settings(
    host_lab: Path, tmp_path: Path
) -> None:
    """A run written before plan.json held every setting (no repeats, offline, retries, lock
    timeout) resumes with their defaults and its own delegates, seed and run id."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    older = {"devices": str(host_lab.resolve()), "models": str(MODELS.resolve())}
    older.update(delegates=["cpu"], threads=None, runs=5, warmup=1, min_seconds=0.0, seed=3)
    older.update(order="shuffled", timeout_s=300.0, run_id="20250101T000000000Z-abcd")
    (run_dir / "plan.json").write_text(json.dumps(older))
    code, output = farm("run", "--resume", run_dir, "--dry-run")

    assert code == 0, output
    assert "20250101T000000000Z-abcd" in output
    assert "cpu" in output and "xnnpack" not in output
