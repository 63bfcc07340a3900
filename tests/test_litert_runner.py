"""The LiteRT Python runner on its own, as a target runs it: a subprocess writing JSON.

`tox -e legacy` runs this file under tflite-runtime with numpy < 2 (FARM_TEST_RUNTIME names
the runtime the runner must use there), as old boards do.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from farm.runners.python import runner_archive

from .lab import DATA, MODELS

RUNTIME = os.environ.get("FARM_TEST_RUNTIME")  # None: the runner picks (ai_edge_litert first)
MODEL = MODELS / "mobilenet_v2_int8.tflite"


def run_runner(tmp_path: Path, model: Path = MODEL, *args: str) -> dict:
    out = tmp_path / "out.json"
    runtime = ["--runtime", RUNTIME] if RUNTIME else []
    argv = [
        sys.executable,
        str(runner_archive()),
        "--model",
        str(model),
        "--out",
        str(out),
        "--runs",
        "12",
        "--warmup",
        "2",
        *runtime,
        *args,
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(out.read_text()))


@pytest.mark.parametrize("delegate", ["cpu", "xnnpack"])
def test_a_cell_reports_every_sample_and_its_runtime(tmp_path: Path, delegate: str) -> None:
    result = run_runner(tmp_path, MODEL, "--delegate", delegate, "--threads", "2")
    assert result["status"] == "ok", result["reason"]
    assert len(result["samples_ms"]) == 12 and min(result["samples_ms"]) > 0
    assert result["first_inference_ms"] > 0 and result["init_ms"] > 0
    assert result["peak_rss_mb"] > 10
    assert result["runtime"] == (RUNTIME or "ai_edge_litert") and result["runtime_version"]


def test_min_seconds_keeps_timing_past_the_run_count(tmp_path: Path) -> None:
    result = run_runner(tmp_path, MODEL, "--min-seconds", "0.5")
    assert sum(result["samples_ms"]) >= 400 and len(result["samples_ms"]) > 12


def test_the_same_inputs_give_the_same_outputs(tmp_path: Path) -> None:
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    run_runner(tmp_path, MODEL, "--seed", "5", "--outputs", str(first))
    run_runner(tmp_path, MODEL, "--seed", "5", "--outputs", str(second))
    run_runner(tmp_path, MODEL, "--seed", "6", "--outputs", str(tmp_path / "c.npz"))
    a, b, c = (np.load(p)["output_0"] for p in (first, second, tmp_path / "c.npz"))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_an_inputs_file_is_fed_as_given(tmp_path: Path) -> None:
    run_runner(tmp_path, MODEL, "--outputs", str(tmp_path / "seeded.npz"))
    zeros = tmp_path / "inputs.npz"
    detail = _input_detail(MODEL)
    np.savez(zeros, input_0=np.zeros(detail[0], dtype=detail[1]))
    run_runner(tmp_path, MODEL, "--inputs", str(zeros), "--outputs", str(tmp_path / "z.npz"))
    assert not np.array_equal(
        np.load(tmp_path / "seeded.npz")["output_0"], np.load(tmp_path / "z.npz")["output_0"]
    )


def _input_detail(model: Path) -> tuple[tuple[int, ...], str]:
    from farm.config import load_models

    (spec,) = [m for m in load_models(MODELS) if Path(m.path).name == model.name]
    return spec.inputs[0].shape, spec.inputs[0].dtype


def test_edgetpu_without_its_runtime_is_skipped_with_the_reason(tmp_path: Path) -> None:
    result = run_runner(tmp_path, MODEL, "--delegate", "edgetpu")
    assert result["status"] == "skipped"
    assert "no Edge TPU runtime" in result["reason"] and "libedgetpu.so.1" in result["reason"]


def test_a_delegate_library_that_does_not_load_fails_as_delegate(tmp_path: Path) -> None:
    result = run_runner(
        tmp_path,
        MODEL,
        "--delegate",
        "external",
        "--delegate-path",
        str(tmp_path / "missing_delegate.so"),
    )
    assert (result["status"], result["failure_kind"]) == ("failed", "delegate")
    assert "missing_delegate.so" in result["reason"]


def test_a_corrupt_model_fails_as_model(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x00" * 100)
    result = run_runner(tmp_path, bad)
    assert (result["status"], result["failure_kind"]) == ("failed", "model")


def test_a_missing_custom_op_fails_as_model_naming_the_op(tmp_path: Path) -> None:
    result = run_runner(tmp_path, DATA / "custom_op.tflite")
    assert (result["status"], result["failure_kind"]) == ("failed", "model")
    assert "FarmTestCustomOp" in result["reason"]


def test_the_pushed_runner_is_one_file_whose_bytes_follow_only_its_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkout (new mtimes) must not make every device take the runner again: the
    sha-cached push compares bytes."""
    from farm.runners import python as runner

    copy = tmp_path / "litert_runner"
    shutil.copytree(runner.RUNNER_PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(runner, "RUNNER_PACKAGE", copy)
    first = runner._zipapp_bytes()
    os.utime(copy / "main.py", (1e9, 1e9))
    assert runner._zipapp_bytes() == first
    (copy / "main.py").write_text((copy / "main.py").read_text() + "\n# changed\n")
    assert runner._zipapp_bytes() != first


def test_the_runner_starts_on_python_3_8(tmp_path: Path) -> None:
    """Old boards have Python 3.8: the zipapp's every module must parse and import there."""
    python = shutil.which("python3.8")
    works = python and subprocess.run([python, "-c", ""], capture_output=True, check=False)
    if not works or works.returncode != 0:
        pytest.skip("no python3.8 here (vermin in tox -e lint checks the syntax anyway)")
    proc = subprocess.run(
        [python, str(runner_archive()), "--probe"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["python"].startswith("3.8.")
