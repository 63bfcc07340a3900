"""Output parity: seeded inputs shared by a model family, and comparing two cells' outputs.

Outputs arrive dequantized (the runner does it), so an int8 cell compares with its fp32
sibling and a delegate with the builtin CPU kernels as real values.

A comparison that fails says how (its class), checked in this order, because the first two are
what broken delegates really emit (fp16 GPU kernels overflowing to Inf/NaN, a kernel writing
nothing) and no tolerance catches them: ``not-checked`` (the reference itself is non-finite),
``non-finite`` (NaN or Inf where the reference has none), ``zero-output`` (out of tolerance and
collapsed to zeros or a constant where the reference varies), ``degraded`` (out of tolerance).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from farm.spec import InputSpec, Tolerance

if TYPE_CHECKING:
    import numpy as np

TOP_K = 5
NOT_CHECKED, NON_FINITE, ZERO_OUTPUT, DEGRADED = (
    "not-checked",
    "non-finite",
    "zero-output",
    "degraded",
)
PARITY_CLASSES = (NON_FINITE, ZERO_OUTPUT, DEGRADED, NOT_CHECKED)  # worst first


# Against TFLite's builtin kernels on the same device, 1 thread; calibrated by
# tests/perf/calibrate_parity.py (README, "Correctness and coverage"): 6 shipped and 12
# third-party models, 30 seeds each, xnnpack vs cpu, 0 false alarms with these numbers.
# - Quantized outputs: the two kernel sets round differently, so a few elements land a step
#   or three apart (mobilenet_v2_int8: max 3 steps, rms 0.648 steps, 1 - cosine 0.0234; top-5
#   agreement as low as 0.2 on its flat random-input scores, so top-k is no check there). A
#   broken kernel moves every element (a zero point off by 3: rms 3 steps) or some by many:
#   rms <= 1 step (1.5x the measured max), max <= 6 steps (2x), cosine >= 0.95 (2x on 1 - cos).
#   Regression outputs (boxes, scores) get no cosine: an offset-dominated vector's cosine
#   stays near 1 whatever happens to it, and a 1-value output's cosine is only its sign.
# - Float outputs: the error is relative to the output's size, not to its largest element: a
#   huge-range output (a pose model's, range 1351) made 1e-3 x the range a false alarm at
#   cosine 1.000000, while one element far off moves the RMS little. RMS error / RMS of the
#   reference measured at most 2.81e-5 (a 1-value sigmoid score; 3.9e-6 on the classifiers):
#   <= 1e-3 is a 35x margin and still fails a 5% scale (0.05) or a shift of 3 x 1e-3 x RMS.
# - Accelerators, against the same cpu cell (tests/perf/calibrate_accelerators.py; README,
#   "Accelerators"). Int8, 30 seeds: `gpu` on SwiftShader stays inside the defaults above
#   (mobilenet_v2_int8: max 3 steps, rms 0.648 steps, cosine >= 0.976); `npu` (Intel OpenVINO)
#   runs an int8 graph its own way: max 5 steps, rms 1.162 steps, cosine 0.9226 (1 - cos 0.077)
#   (10 seeds again on 2026-12-06: max 5, rms 1.095, cosine 0.9355): rms <= 2 steps, max <= 10
#   (2x), cosine >= 0.85 (2x on 1 - cos).
# - Floats on accelerators that compute in reduced precision (bf16 NPUs, fp16 GPUs): the six
#   shipped models x 10 seeds on this lab's CPU (no avx512_bf16/AMX) are exact for both `npu`
#   and SwiftShader's `gpu` / `gpu_fp32` (rms <= 4.3e-6 of the reference's rms, cosine
#   1.000000), and OpenVINO ignores INFERENCE_PRECISION_HINT=bf16 or f16 there (the same
#   figures): the one reduced-precision figure is OpenVINO on a CPU with bf16, mobilenet_v2_fp32
#   cosine 0.9947 (so rms ~ 0.10): cosine >= 0.985 and rms <= 0.15 (1.5-2x). fp16 has more
#   mantissa bits than bf16 (10 against 7), so `gpu` (fp16 by default) takes the same rule until
#   a real fp16 GPU is measured; a kernel overflowing fp16 is caught as non-finite, not here.
#   `gpu_fp32` keeps the float default.
REDUCED_PRECISION_FLOAT = Tolerance(cosine_min=0.985, rms_rel=0.15)
DEFAULT_TOLERANCES = {
    "float": Tolerance(cosine_min=0.9999, rms_rel=1e-3),
    "quantized classifier": Tolerance(cosine_min=0.95, max_abs_steps=6, rms_steps=1.0),
    "quantized regression": Tolerance(max_abs_steps=6, rms_steps=1.0),
    "gpu float": REDUCED_PRECISION_FLOAT,
    "npu float": REDUCED_PRECISION_FLOAT,
    "npu quantized": Tolerance(cosine_min=0.85, max_abs_steps=10, rms_steps=2.0),
}


@dataclass(frozen=True)
class OutputErrors:
    """One cell's outputs against a reference's, over all output tensors (the worst)."""

    max_abs: float
    cosine: float
    topk: float | None
    worst_tensor: str
    max_abs_steps: float | None = None  # max_abs in quantization steps, for quantized outputs
    rms_abs: float | None = None  # RMS error
    rms_rel: float | None = None  # RMS error / RMS of the reference (the worst tensor's)
    rms_steps: float | None = None  # RMS error in quantization steps, for quantized outputs

    def failures(self, tolerance: Tolerance) -> list[str]:
        below = (
            ("cosine", self.cosine, tolerance.cosine_min),
            ("top-k agreement", self.topk, tolerance.topk_min),
        )
        above = (
            ("rms error", self.rms_steps, tolerance.rms_steps, " quantization steps"),
            ("rms error", self.rms_rel, tolerance.rms_rel, " of the reference's rms"),
        )
        found = [
            f"{name} {value:.6g} < {limit:g}"
            for name, value, limit in below
            if limit is not None and value is not None and value < limit
        ]
        found += [
            f"{name} {value:.3g}{unit} > {limit:g}"
            for name, value, limit, unit in above
            if limit is not None and value is not None and value > limit
        ]
        return found


def default_tolerance(comparison: OutputErrors, delegate: str) -> Tolerance:
    """The tolerance for a delegate's outputs when the manifest sets none: by delegate, and
    by the outputs' kind, known from the outputs even in a bare folder: quantized (they have
    a step) and classifier-like (scores ranked for top-k)."""
    quantized = comparison.max_abs_steps is not None
    accelerator = DEFAULT_TOLERANCES.get(f"{delegate} {'quantized' if quantized else 'float'}")
    if accelerator is not None:
        return accelerator
    if not quantized:
        return DEFAULT_TOLERANCES["float"]
    kind = "classifier" if comparison.topk is not None else "regression"
    return DEFAULT_TOLERANCES[f"quantized {kind}"]


def make_inputs(inputs: Sequence[InputSpec], seed: int) -> dict[str, np.ndarray]:
    """Seeded inputs as real values (float32 for float and quantized inputs, integers for
    genuinely integer ones such as token ids), named input_0, input_1, ..."""
    import numpy as np

    rng = np.random.default_rng(seed)
    arrays = {}
    for i, spec in enumerate(inputs):
        if spec.dtype.startswith("float") or spec.quantized:
            arrays[f"input_{i}"] = rng.uniform(-1.0, 1.0, spec.shape).astype(np.float32)
        else:
            arrays[f"input_{i}"] = rng.integers(0, 100, spec.shape).astype(spec.dtype)
    return arrays


def save_arrays(path: Path, arrays: dict[str, Any]) -> None:
    """An .npz of named arrays: a run's inputs, or one cell's outputs."""
    import numpy as np

    with open(path, "wb") as out:  # np.savez appends .npz to a bare path; a file object not
        np.savez(out, **arrays)


def compare(reference: Mapping[str, np.ndarray], outputs: Mapping[str, np.ndarray]) -> OutputErrors:
    """The worst tensor's errors; tensors are matched by name (output_0, output_1, ...), and
    ``scale_N`` (one quantization step of output N) turns its max abs error into steps."""
    names = output_names(reference, outputs)
    results = [
        _in_steps(_compare_tensor(name, reference[name], outputs[name]), reference, name)
        for name in names
    ]
    worst = min(results, key=lambda c: (c.cosine, -c.max_abs))
    return replace(
        worst,
        rms_rel=max(c.rms_rel for c in results if c.rms_rel is not None),
        rms_steps=max((c.rms_steps for c in results if c.rms_steps is not None), default=None),
    )


def _in_steps(
    comparison: OutputErrors, reference: Mapping[str, np.ndarray], name: str
) -> OutputErrors:
    scale = reference.get(name.replace("output_", "scale_"))
    if scale is None or float(scale) <= 0:
        return comparison
    step = float(scale)
    rms_abs = comparison.rms_abs
    return replace(
        comparison,
        max_abs_steps=comparison.max_abs / step,
        rms_steps=None if rms_abs is None else rms_abs / step,
    )


def _compare_tensor(name: str, ref: np.ndarray, out: np.ndarray) -> OutputErrors:
    import numpy as np

    if ref.shape != out.shape:
        shapes = f"{name} (shape {out.shape} vs {ref.shape})"
        return OutputErrors(float("inf"), -1.0, None, shapes, rms_rel=float("inf"))
    a, b = ref.astype(np.float64).ravel(), out.astype(np.float64).ravel()
    max_abs = float(np.max(np.abs(a - b))) if a.size else 0.0
    rms_abs, rms_ref = _rms(a - b), _rms(a)
    # A reference of zeros has no size to be relative to: any error counts in full.
    rms_rel = rms_abs / rms_ref if rms_ref else (0.0 if rms_abs == 0 else float("inf"))
    topk = _topk(ref, out)
    return OutputErrors(max_abs, _cosine(a, b), topk, name, rms_abs=rms_abs, rms_rel=rms_rel)


def _rms(values: np.ndarray) -> float:
    import numpy as np

    return float(np.sqrt(np.mean(np.square(values)))) if values.size else 0.0


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    import numpy as np

    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    if norms == 0.0:
        return 1.0 if np.array_equal(a, b) else 0.0
    return float(np.dot(a, b) / norms)


def _topk(ref: np.ndarray, out: np.ndarray) -> float | None:
    """Share of the reference's top-5 classes the output also ranks top-5 (classifier-like
    outputs only: a last axis of more than 5 scores); the worst row of the batch."""
    import numpy as np

    if ref.ndim == 0 or ref.shape[-1] <= TOP_K:
        return None
    rows_ref, rows_out = ref.reshape(-1, ref.shape[-1]), out.reshape(-1, out.shape[-1])
    shares = [
        len(set(np.argsort(r)[-TOP_K:]) & set(np.argsort(o)[-TOP_K:])) / TOP_K
        for r, o in zip(rows_ref, rows_out, strict=True)
    ]
    return min(shares)


def verdict(
    comparison: OutputErrors, reference: Mapping[str, np.ndarray], tolerance: Tolerance
) -> str | None:
    """None when within tolerance, else the reason naming the worst tensor."""
    import numpy as np

    failures = comparison.failures(tolerance)
    steps = comparison.max_abs_steps
    if tolerance.max_abs_steps is not None and steps is not None:
        if steps > tolerance.max_abs_steps:
            failures.append(
                f"max abs error {steps:.3g} quantization steps > {tolerance.max_abs_steps:g}"
            )
    elif tolerance.max_abs_rel is not None:
        tensors = [v for k, v in reference.items() if k.startswith("output_") and v.size]
        scale = max(float(np.max(np.abs(v))) for v in tensors) if tensors else 1.0
        limit = tolerance.max_abs_rel * scale
        if comparison.max_abs > limit:
            failures.append(f"max abs error {comparison.max_abs:.6g} > {limit:.6g}")
    return f"{comparison.worst_tensor}: {'; '.join(failures)}" if failures else None


@dataclass(frozen=True)
class Judgement:
    """A cell's outputs judged against a reference: its errors (None where they cannot be
    computed), its failure class (None: within tolerance) and the reason naming the tensor."""

    comparison: OutputErrors | None
    failure_class: str | None = None
    reason: str | None = None


def judge(
    reference: Mapping[str, np.ndarray],
    outputs: Mapping[str, np.ndarray],
    tolerance: Tolerance | None,
    delegate: str,
) -> Judgement:
    """Finiteness first, then the tolerance (the manifest's, else the default for the
    outputs' kind); a failed tolerance on an output that collapsed is ``zero-output``."""
    names = output_names(reference, outputs)
    broken_reference = non_finite(reference, names)
    if broken_reference:
        return Judgement(None, NOT_CHECKED, f"the reference's {broken_reference}")
    broken = non_finite(outputs, names)
    if broken:
        return Judgement(None, NON_FINITE, f"{broken} where the reference has none")
    misshapen = [n for n in names if reference[n].shape != outputs[n].shape]
    if misshapen:
        name = misshapen[0]
        shapes = f"shape {outputs[name].shape} vs {reference[name].shape}"
        return Judgement(None, DEGRADED, f"{name}: {shapes}")
    comparison = compare(reference, outputs)
    reason = verdict(comparison, reference, tolerance or default_tolerance(comparison, delegate))
    if reason is None:
        return Judgement(comparison)
    collapsed = [n for n in names if _collapsed(reference[n], outputs[n])]
    if collapsed:
        return Judgement(
            comparison, ZERO_OUTPUT, f"{_collapse_words(outputs, collapsed[0])}; {reason}"
        )
    return Judgement(comparison, DEGRADED, reason)


def output_names(
    reference: Mapping[str, np.ndarray], outputs: Mapping[str, np.ndarray]
) -> list[str]:
    """The output tensors both sides must have (output_0, output_1, ...)."""
    names = [name for name in reference if name.startswith("output_")]
    if not names or any(name not in outputs for name in names):
        missing = sorted(set(names) - set(outputs)) or ["all"]
        raise ValueError(f"outputs missing: {', '.join(missing)}")
    return names


def non_finite(arrays: Mapping[str, np.ndarray], names: Sequence[str] = ()) -> str | None:
    """'output_0 has 1 NaN and 0 Inf of 1001 values' for the first output tensor with any."""
    import numpy as np

    for name in names or [n for n in arrays if n.startswith("output_")]:
        values = np.asarray(arrays[name], dtype=np.float64)
        nan, inf = int(np.isnan(values).sum()), int(np.isinf(values).sum())
        if nan or inf:
            return f"{name} has {nan} NaN and {inf} Inf of {values.size} values"
    return None


def _collapsed(ref: np.ndarray, out: np.ndarray) -> bool:
    """All zeros, or one constant, where the reference is neither."""
    import numpy as np

    ref, out = ref.astype(np.float64).ravel(), out.astype(np.float64).ravel()
    if not ref.size or not np.any(ref):
        return False
    zeros = not np.any(out)
    constant = out.size > 1 and np.ptp(out) == 0 and np.ptp(ref) > 0
    return bool(zeros or constant)


def _collapse_words(outputs: Mapping[str, np.ndarray], name: str) -> str:
    import numpy as np

    values = np.asarray(outputs[name]).ravel()
    return f"{name} is all {values[0]:.6g}" if values.size else f"{name} is empty"
