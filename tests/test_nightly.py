"""`farm nightly`: run, compare with the last good run, exit like `farm compare`."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from typer.testing import CliRunner

from farm.cli import app

from .lab import MODELS


def test_the_first_nightly_is_a_baseline_and_the_next_is_compared_with_it(
    host_lab: Path, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copyfile(MODELS / "kws_dscnn_int8.tflite", models / "kws.tflite")
    runner = CliRunner(env={"COLUMNS": "200"})
    args = ["nightly", "--devices", str(host_lab), "--models", str(models), "--runs", "300"]
    cwd = os.getcwd()
    os.chdir(tmp_path)  # reports/ is created here
    try:
        first = runner.invoke(app, args)
        second = runner.invoke(app, args)
    finally:
        os.chdir(cwd)
    assert first.exit_code == 0 and "this run is the first baseline" in first.output
    assert second.exit_code == 0, second.output
    runs = sorted((tmp_path / "reports" / "runs").iterdir())
    assert len(runs) == 2 and "compared with" in second.output and runs[0].name in second.output
    comparison = json.loads((runs[1] / "compare.json").read_text())
    assert comparison["exit_code"] == 0 and len(comparison["rows"]) == 2
    assert "| " in (runs[1] / "compare.md").read_text()
    assert (tmp_path / "reports" / "latest.html").exists()
