"""`farm nightly`: run, compare with the last good run, exit like `farm compare`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .lab import farm, model_folder_with


def test_the_first_nightly_is_a_baseline_and_the_next_is_compared_with_it(
    host_lab: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = model_folder_with(tmp_path, "kws_dscnn_int8", name="kws")
    args = ["nightly", "--devices", host_lab, "--models", models, "--runs", "300"]
    monkeypatch.chdir(tmp_path)  # reports/ is created here
    first_code, first = farm(*args)
    second_code, second = farm(*args)
    assert first_code == 0 and "this run is the first baseline" in first
    assert second_code == 0, second
    runs = sorted((tmp_path / "reports" / "runs").iterdir())
    assert len(runs) == 2 and "compared with" in second and runs[0].name in second
    comparison = json.loads((runs[1] / "compare.json").read_text())
    assert comparison["exit_code"] == 0 and len(comparison["rows"]) == 2
    assert "| " in (runs[1] / "compare.md").read_text()
    assert (tmp_path / "reports" / "latest.html").exists()


def test_nightly_takes_the_warmup_of_farm_run(
    host_lab: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = model_folder_with(tmp_path, "kws_dscnn_int8", name="kws")
    monkeypatch.chdir(tmp_path)
    code, output = farm("nightly", "-d", host_lab, "-m", models, "--runs", "20", "--warmup", "3")
    assert code == 0, output
    (run,) = (tmp_path / "reports" / "runs").iterdir()
    assert json.loads((run / "run.json").read_text())["settings"]["warmup"] == 3


def test_a_nightly_whose_every_cell_failed_exits_1_not_nothing_compared(
    host_lab: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = model_folder_with(tmp_path, "kws_dscnn_int8", name="kws")
    args = ["nightly", "--devices", host_lab, "--models", models, "--runs", "20"]
    monkeypatch.chdir(tmp_path)
    first_code, _ = farm(*args)
    (models / "kws.tflite").write_bytes(b"not a flatbuffer")  # every cell now fails
    second_code, second = farm(*args)
    assert first_code == 0 and second_code == 1, second
