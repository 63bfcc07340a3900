"""Comparing outputs: tolerances in real values and in quantization steps; drift gating."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from farm.config import load_models
from farm.job import run_plan
from farm.parity import (
    DEGRADED,
    NON_FINITE,
    NOT_CHECKED,
    ZERO_OUTPUT,
    Judgement,
    compare,
    default_tolerance,
    judge,
    make_inputs,
    verdict,
)
from farm.spec import InputSpec, Tolerance
from farm.store import read_journal

from .lab import MODELS, model_folder_with, one_op_model, plan_lab, run_lab


def outputs(values: list[float], scale: float | None = None) -> dict[str, np.ndarray]:
    found = {"output_0": np.asarray([values], dtype=np.float32)}
    if scale is not None:
        found["scale_0"] = np.float32(scale)
    return found


def test_identical_outputs_are_within_every_tolerance() -> None:
    reference = outputs([0.1, 0.2, 0.7, 0.0, 0.0, 0.0])
    comparison = compare(reference, reference)
    assert (comparison.max_abs, comparison.cosine, comparison.topk) == (0.0, 1.0, 1.0)
    assert verdict(comparison, reference, default_tolerance(comparison, "xnnpack")) is None


def test_a_float_output_off_by_a_little_more_than_float_noise_fails_naming_the_tensor() -> None:
    reference = outputs([1.0, 2.0, 3.0, 4.0])
    comparison = compare(reference, outputs([1.0, 2.0, 3.0, 4.01]))
    reason = verdict(comparison, reference, default_tolerance(comparison, "xnnpack"))
    assert reason is not None and reason.startswith("output_0: ")
    # RMS error 0.005 over the reference's RMS 2.74: 0.00183, over the calibrated 1e-3.
    assert re.search(r"rms error 0\.00183 of the reference's rms > 0\.001$", reason)


def test_a_float_output_with_a_huge_range_is_judged_relative_to_its_size() -> None:
    """The issue's pose model: max abs error 4.4278 on an output of range 1351 failed
    "> 1.35139" (1e-3 x the range) at cosine 1.000000. Relative to the output's RMS it is
    float noise; a 5% scale of the same output still fails."""
    reference = np.linspace(-1351.0, 1351.0, 4000)
    noisy = reference * (1 + 1e-5 * np.cos(np.arange(4000)))
    noisy[7] += 4.4278
    assert judge({"output_0": reference}, {"output_0": noisy}, None, "xnnpack").reason is None
    scaled = judge({"output_0": reference}, {"output_0": reference * 1.05}, None, "xnnpack")
    assert scaled.failure_class == DEGRADED


def test_quantized_outputs_are_judged_in_quantization_steps() -> None:
    step = 1 / 256
    levels = np.arange(10.0, 30.0)
    reference = outputs(list(levels * step), scale=step)

    def reason(shifted: np.ndarray) -> str | None:
        comparison = compare(reference, outputs(list(shifted * step)))
        return verdict(comparison, reference, default_tolerance(comparison, "xnnpack"))

    # The kernels' own rounding: a few elements up to 3 steps apart (calibrated: max 3).
    rounding = np.where(levels == 20, 3, 0) + np.where(levels % 5 == 1, 1, 0)
    assert reason(levels + rounding) is None
    assert "rms error 3 quantization steps > 1" in (reason(levels + 3) or "")  # a zero point off
    spike = levels + np.where(levels == 20, 7, 0)
    assert "max abs error 7 quantization steps > 6" in (reason(spike) or "")


def test_top5_agreement_counts_shared_classes() -> None:
    reference = outputs([9, 8, 7, 6, 5, 0, 0, 0])
    swapped = outputs([9, 8, 7, 6, 0, 5.5, 0, 0])  # class 4 falls out, class 5 comes in
    assert compare(reference, swapped).topk == pytest.approx(0.8)
    reason = verdict(compare(reference, swapped), reference, Tolerance(topk_min=0.9))
    assert reason is not None and "top-k agreement 0.8 < 0.9" in reason


def test_a_missing_output_tensor_is_an_error() -> None:
    with pytest.raises(ValueError, match="outputs missing: output_0"):
        compare(outputs([1.0]), {"output_1": np.zeros(1)})


def test_inputs_are_seeded_real_values_shared_by_quantized_variants() -> None:
    specs = [InputSpec("x", (1, 4), "int8", quantized=True), InputSpec("ids", (1, 3), "int32")]
    first, again = make_inputs(specs, seed=4), make_inputs(specs, seed=4)
    assert first["input_0"].dtype == np.float32 and np.array_equal(
        first["input_0"], again["input_0"]
    )
    assert first["input_1"].dtype == np.int32
    assert not np.array_equal(first["input_0"], make_inputs(specs, seed=5)["input_0"])


def test_a_drift_tolerance_in_the_manifest_gates_the_variant(
    host_lab: Path, tmp_path: Path
) -> None:
    manifest = yaml.safe_load((MODELS / "models.yaml").read_text())
    kws = {name: e for name, e in manifest["models"].items() if e["family"] == "kws_dscnn"}
    kws["kws_dscnn_int8"]["drift_tolerance"] = {"cosine_min": 0.999999999}
    folder = model_folder_with(tmp_path, *kws)
    (folder / "models.yaml").write_text(yaml.safe_dump({"models": kws}))
    frame = run_lab(tmp_path, host_lab, folder).set_index(["model", "delegate"])
    int8 = frame.loc[("kws_dscnn_int8", "cpu")]
    assert (int8.status, int8.failure_kind) == ("failed", "parity")
    assert "drift from host-kws_dscnn_fp32-cpu-t1" in int8.reason
    assert int8.latency_median_ms > 0  # still measured
    fp16 = frame.loc[("kws_dscnn_fp16", "cpu")]
    assert fp16.status == "ok" and fp16.drift_cosine == pytest.approx(1.0, abs=1e-4)


def judged(reference: list[float], output: list[float], scale: float | None = None) -> Judgement:
    return judge(outputs(reference, scale), outputs(output), None, "xnnpack")


REFERENCE = [0.5, -1.25, 2.0, 0.75, -0.5, 1.5]


@pytest.mark.parametrize(
    ("output", "failure_class", "words"),
    [
        ([0.5, float("nan"), 2.0, 0.75, -0.5, 1.5], NON_FINITE, "1 NaN and 0 Inf of 6 values"),
        ([float("inf")] * 6, NON_FINITE, "0 NaN and 6 Inf"),
        ([0.0] * 6, ZERO_OUTPUT, "output_0 is all 0"),
        ([0.7] * 6, ZERO_OUTPUT, "output_0 is all 0.7"),
        ([v * 1.05 for v in REFERENCE], DEGRADED, "rms error 0.05 of the reference's rms > 0.001"),
        (REFERENCE[::-1], DEGRADED, "cosine"),
    ],
)
def test_a_broken_output_fails_with_its_class_and_says_what_it_saw(
    output: list[float], failure_class: str, words: str
) -> None:
    verdict_ = judged(REFERENCE, output)
    assert verdict_.failure_class == failure_class
    assert verdict_.reason is not None and words in verdict_.reason


def test_non_finite_outputs_leave_no_nan_in_the_errors() -> None:
    verdict_ = judged(REFERENCE, [float("nan")] * 6)
    assert verdict_.comparison is None  # no NaN max abs / cosine to pass a `<` check


def test_a_non_finite_reference_checks_nothing_and_never_says_ok() -> None:
    verdict_ = judged([float("nan"), *REFERENCE[1:]], REFERENCE)
    assert (verdict_.failure_class, verdict_.comparison) == (NOT_CHECKED, None)
    assert verdict_.reason == "the reference's output_0 has 1 NaN and 0 Inf of 6 values"


def test_a_reference_that_is_itself_constant_does_not_make_a_constant_output_zero_output() -> None:
    assert judged([0.25] * 6, [0.25] * 6).failure_class is None
    assert judged([0.25] * 6, [0.5] * 6).failure_class == DEGRADED


def test_a_model_whose_outputs_are_nan_everywhere_fails_its_cells_and_loses_nothing(
    host_lab: Path, tmp_path: Path
) -> None:
    """LOG of the seeded uniform(-1, 1) inputs: NaN on every delegate. The run finishes with
    results and a dashboard; each cell fails as the model's, naming the NaN count."""
    folder = one_op_model(tmp_path / "models" / "log_op.tflite", "LOG").parent
    plan = plan_lab(host_lab, folder, runs=3, warmup=1, seed=1, run_dir=tmp_path / "run")
    outcome = run_plan(plan)
    frame = pd.read_parquet(tmp_path / "run" / "results.parquet")
    assert len(frame) == len(read_journal(tmp_path / "run" / "journal.jsonl")) > 0
    assert (frame.status == "failed").all() and (frame.failure_kind == "model").all()
    assert (frame.parity_class == NON_FINITE).all() and frame.parity_ok.eq(False).all()
    assert frame.reason.str.contains(r"output_0 has \d+ NaN and 0 Inf of 8 values").all()
    assert (tmp_path / "run" / "dashboard.html").exists() and outcome.exit_code == 1


def test_a_manifest_tolerance_may_set_the_rms_checks(tmp_path: Path) -> None:
    manifest = yaml.safe_load((MODELS / "models.yaml").read_text())
    entry = manifest["models"]["kws_dscnn_int8"]
    entry["tolerance"] = {"rms_steps": 2, "rms_rel": 0.01}
    folder = model_folder_with(tmp_path, "kws_dscnn_int8")
    (folder / "models.yaml").write_text(yaml.safe_dump({"models": {"kws_dscnn_int8": entry}}))
    (model,) = load_models(folder)
    assert model.tolerance == Tolerance(rms_rel=0.01, rms_steps=2)


def test_an_npu_that_runs_int8_graphs_its_own_way_gets_its_measured_margin() -> None:
    """OpenVINO's int8 outputs sat up to 5 steps from the builtin kernels (30 seeds): within
    the npu's tolerance, over the one calibrated for two CPU kernel sets."""
    step = 1 / 256
    reference = outputs([v * step for v in (40, 10, 30, 20, 0, 5, 60, 25)], scale=step)
    five_off = [v * step for v in (45, 10, 30, 20, 0, 5, 60, 25)]
    assert judge(reference, outputs(five_off), None, "npu").failure_class is None
    assert judge(reference, outputs(five_off), None, "xnnpack").failure_class == DEGRADED
    eleven_off = [v * step for v in (51, 10, 30, 20, 0, 5, 60, 25)]
    assert judge(reference, outputs(eleven_off), None, "npu").failure_class == DEGRADED


def test_gpu_fp32_is_held_to_the_float_default_and_gpu_to_the_reduced_precision_one() -> None:
    comparison = compare(outputs(REFERENCE), outputs(REFERENCE))
    assert default_tolerance(comparison, "gpu_fp32") == default_tolerance(comparison, "xnnpack")
    assert default_tolerance(comparison, "gpu") == default_tolerance(comparison, "npu")


def test_a_bf16_sized_error_passes_a_reduced_precision_accelerator_but_not_the_cpu() -> None:
    """Every value off by 8 %, cosine 1 - 0.0032: the size of OpenVINO's bf16 error on
    mobilenet_v2_fp32 (cosine 0.9947). A 20 % error stays a failure for every accelerator."""
    rng = np.random.default_rng(0)
    reference = {"output_0": rng.uniform(-1, 1, 1000).astype(np.float32)}

    def off(fraction: float) -> dict[str, np.ndarray]:
        signs = np.where(rng.uniform(size=1000) < 0.5, -1.0, 1.0).astype(np.float32)
        return {"output_0": reference["output_0"] * (1 + fraction * signs)}

    for delegate in ("gpu", "npu"):
        assert judge(reference, off(0.08), None, delegate).failure_class is None
        assert judge(reference, off(0.20), None, delegate).failure_class == DEGRADED
    for delegate in ("gpu_fp32", "xnnpack"):
        assert judge(reference, off(0.08), None, delegate).failure_class == DEGRADED
