"""The GPU-timing fidelity benchmark (`tox -e perf`): the farm's gpu median against a loop that
times completed inferences (run + output read) with LiteRT directly, and against what the same
loop measures at submission (run alone), on SwiftShader."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from farm.job import run_plan

from ..lab import MODELS, model_folder_with, plan_lab, write_devices
from ..test_accelerators import REFERENCE_LOOP, SOFTWARE_GPU, device, require_accelerator_lab

pytestmark = pytest.mark.perf


def reference_ms(model: str) -> dict[str, float]:
    env = {**SOFTWARE_GPU, "PATH": "/usr/bin:/bin"}
    loop = [sys.executable, "-c", REFERENCE_LOOP, str(MODELS / f"{model}.tflite")]
    done = subprocess.run(loop, capture_output=True, text=True, env=env, timeout=600, check=True)
    return dict(json.loads(done.stdout.splitlines()[-1]))


def farm_gpu_median_ms(model: str, tmp_path: Path) -> float:
    devices = {"host": device(tmp_path / "work", ["gpu"], threads=[1])}
    lab = write_devices(tmp_path / "devices.yaml", devices)
    folder = model_folder_with(tmp_path, model)
    plan = plan_lab(lab, folder, runs=30, warmup=3, seed=0, run_dir=tmp_path / "run")
    (result,) = run_plan(plan).results
    assert result.status == "ok", result.reason
    return float(result.latency_median_ms or 0)


@pytest.mark.parametrize("model", ["kws_dscnn_fp32", "mobilenet_v2_fp32"])
def test_a_gpu_median_is_a_completed_inference_within_10_percent_of_a_direct_loop(
    benchmark: pytest.FixtureRequest, model: str, tmp_path: Path
) -> None:
    require_accelerator_lab()
    before = reference_ms(model)
    farm = benchmark.pedantic(farm_gpu_median_ms, args=(model, tmp_path), rounds=1, iterations=1)
    after = reference_ms(model)
    done = (before["done_ms"] + after["done_ms"]) / 2
    submit = (before["submit_ms"] + after["submit_ms"]) / 2
    benchmark.extra_info.update(farm_ms=farm, completed_ms=done, submitted_ms=submit)
    print(f"\n{model} gpu: farm {farm:.2f} ms, completed {done:.2f} ms, submitted {submit:.3f} ms")
    assert abs(farm / done - 1) <= 0.10 and farm > 10 * submit
