"""Calibrate the default parity tolerances on real models (``tox -e calibrate``).

For the shipped models and the pinned third-party ones (tests/perf/calibration_models.py), on
every seed: the farm's seeded inputs (``farm.parity.make_inputs``), LiteRT's builtin kernels
(``cpu``) and XNNPACK made, fed and read the way the farm's runner does (its own functions),
and xnnpack judged against cpu with ``farm.parity.judge`` and the default tolerances. Prints
the error distributions per model and output kind, the false alarms (must be 0), the drift of
the shipped fp16/int8 variants from fp32, and whether injected corruptions of the real
outputs fail with the right class. Exits 1 on a false alarm or a missed corruption.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from farm.config import load_models
from farm.parity import DEGRADED, NON_FINITE, ZERO_OUTPUT, default_tolerance, judge, make_inputs
from farm.runners import litert_runner
from farm.spec import InputSpec, Tolerance

from .calibration_models import CACHE, THIRD_PARTY, fetch

MODELS = Path(__file__).resolve().parents[2] / "models"
Outputs = dict[str, Any]


@dataclass
class Calibrated:
    """One model's outputs per delegate and seed, and its xnnpack-vs-cpu measurements."""

    name: str
    path: Path
    family: str | None = None
    variant: str | None = None
    outputs: dict[str, list[Outputs]] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)


def input_specs(interpreter: Any) -> list[InputSpec]:
    """The InputSpec a manifest would declare, from LiteRT's input details."""
    specs = []
    for detail in interpreter.get_input_details():
        dtype = np.dtype(detail["dtype"])
        scale = detail.get("quantization", (0.0, 0))[0]
        quantized = dtype.kind in "iu" and bool(scale)
        specs.append(
            InputSpec(detail["name"], tuple(int(n) for n in detail["shape"]), dtype.name, quantized)
        )
    return specs


def run_seeds(path: Path, delegate: str, seeds: int) -> list[Outputs]:
    """One interpreter (1 thread), one invoke per seed: the outputs as the runner saves them."""
    _, _, runtime = litert_runner.load_runtime(None)
    args = argparse.Namespace(
        model=str(path), delegate=delegate, threads=1, delegate_path=None, delegate_option={}
    )
    interpreter = litert_runner.make_interpreter(runtime, args)
    details = interpreter.get_input_details()
    specs = input_specs(interpreter)
    found = []
    for seed in range(seeds):
        values = make_inputs(specs, seed)
        inputs = [litert_runner.as_input(values[f"input_{i}"], d) for i, d in enumerate(details)]
        litert_runner.set_inputs(interpreter, inputs)
        interpreter.invoke()
        found.append(read_outputs(interpreter))
    return found


def read_outputs(interpreter: Any) -> Outputs:
    arrays: Outputs = {}
    for i, detail in enumerate(interpreter.get_output_details()):
        value = interpreter.get_tensor(detail["index"]).copy()
        arrays.update(litert_runner.output_arrays(i, value, detail))
    return arrays


def measure(reference: Outputs, outputs: Outputs, delegate: str) -> dict[str, Any]:
    """The judge's verdict and every error measure worth calibrating, worst tensor each."""
    judged = judge(reference, outputs, None, delegate)
    comparison = judged.comparison
    row: dict[str, Any] = {"class": judged.failure_class, "reason": judged.reason}
    if comparison is None:
        return row
    names = [n for n in reference if n.startswith("output_")]
    pairs = [(reference[n].astype(np.float64), outputs[n].astype(np.float64)) for n in names]
    magnitude = max(float(np.max(np.abs(a))) for a, _ in pairs) or 1.0
    row.update(
        steps=comparison.max_abs_steps,
        max_abs=comparison.max_abs,
        rel_range=comparison.max_abs / magnitude,
        rms_rel=max(_rms(a - b) / (_rms(a) or 1.0) for a, b in pairs),
        rms_steps=_rms_steps(reference, outputs, names),
        one_minus_cos=1.0 - comparison.cosine,
        topk=comparison.topk,
        kind=kind_of(comparison.max_abs_steps, comparison.topk),
    )
    return row


def _rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(values)))) if values.size else 0.0


def _rms_steps(reference: Outputs, outputs: Outputs, names: list[str]) -> float | None:
    found = [
        _rms(reference[n].astype(np.float64) - outputs[n])
        / float(reference[n.replace("output_", "scale_")])
        for n in names
        if n.replace("output_", "scale_") in reference
    ]
    return max(found) if found else None


def kind_of(steps: float | None, topk: float | None) -> str:
    quantized = "quantized " if steps is not None else "float "
    return quantized + ("classifier" if topk is not None else "regression")


# --- corruptions of real outputs, and the class each must fail with ---


def corruptions(
    reference: Outputs, outputs: Outputs, tolerance: Tolerance
) -> dict[str, tuple[Outputs, str] | None]:
    """Each corruption of output_0 with its expected class; None where it cannot apply: a
    1-value output has no constant or class order, and on a quantized output a change of
    under 3 steps everywhere is within what the two kernel sets emit anyway (measured: 3)."""
    ref, out = reference["output_0"].astype(np.float64), outputs["output_0"].astype(np.float32)
    scale = reference.get("scale_0")
    step = float(scale) if scale is not None else None

    def variant(values: np.ndarray) -> Outputs:
        return {**outputs, "output_0": np.asarray(values, dtype=np.float32).reshape(out.shape)}

    nan = out.copy().ravel()
    nan[0] = np.nan
    found: dict[str, tuple[Outputs, str] | None] = {
        "NaN in one element": (variant(nan), NON_FINITE),
        "all zeros": (variant(np.zeros_like(out)), ZERO_OUTPUT) if np.any(ref) else None,
        "a constant": (variant(np.full_like(out, ref.mean())), ZERO_OUTPUT)
        if out.size > 1 and np.ptp(ref) > 0
        else None,
        "scaled x1.05": _scaled(out, step, variant),
        "shifted by 3 units": (variant(out + 3 * shift_unit(ref, step, tolerance)), DEGRADED),
        "permuted classes": _permuted(out, variant) if ref.ndim and ref.shape[-1] > 5 else None,
    }
    return {name: _resolvable(case, out, step) for name, case in found.items()}


def _resolvable(
    case: tuple[Outputs, str] | None, out: np.ndarray, step: float | None
) -> tuple[Outputs, str] | None:
    if case is None or step is None or case[1] == NON_FINITE:
        return case
    change = np.max(np.abs(case[0]["output_0"].astype(np.float64) - out))
    return case if change >= 3 * step - 1e-9 else None


def shift_unit(ref: np.ndarray, step: float | None, tolerance: Tolerance) -> float:
    """One quantization step, or for floats the error the tolerance allows per element."""
    if step is not None:
        return step
    if tolerance.rms_rel is not None:
        return tolerance.rms_rel * _rms(ref)
    return (tolerance.max_abs_rel or 0.0) * float(np.max(np.abs(ref)))


def _scaled(out: np.ndarray, step: float | None, variant: Any) -> tuple[Outputs, str] | None:
    if step is None:
        return variant(out * 1.05), DEGRADED
    # A quantized kernel can only emit whole steps: the scaled output, requantized.
    return variant(np.round(out.astype(np.float64) * 1.05 / step) * step), DEGRADED


def _permuted(out: np.ndarray, variant: Any) -> tuple[Outputs, str]:
    order = np.random.default_rng(0).permutation(out.shape[-1])
    return variant(out[..., order]), DEGRADED


# --- the run ---


def all_models(names: list[str]) -> list[Calibrated]:
    shipped = [Calibrated(m.name, Path(m.path), m.family, m.variant) for m in load_models(MODELS)]
    third = [Calibrated(m.name, fetch(m, CACHE)) for m in THIRD_PARTY]
    found = shipped + third
    return [m for m in found if not names or m.name in names]


def calibrate(model: Calibrated, seeds: int) -> None:
    for delegate in ("cpu", "xnnpack"):
        model.outputs[delegate] = run_seeds(model.path, delegate, seeds)
    for reference, outputs in zip(model.outputs["cpu"], model.outputs["xnnpack"], strict=True):
        model.rows.append(measure(reference, outputs, "xnnpack"))


def detect(model: Calibrated) -> dict[str, list[str]]:
    """Per corruption: 'ok', 'n/a' or what was wrong, one entry per seed."""
    results: dict[str, list[str]] = defaultdict(list)
    for reference, outputs in zip(model.outputs["cpu"], model.outputs["xnnpack"], strict=True):
        comparison = judge(reference, reference, None, "xnnpack").comparison
        assert comparison is not None
        tolerance = default_tolerance(comparison, "xnnpack")
        for name, case in corruptions(reference, outputs, tolerance).items():
            if case is None:
                results[name].append("n/a")
                continue
            got = judge(reference, case[0], None, "xnnpack").failure_class
            results[name].append("ok" if got == case[1] else f"{got} (expected {case[1]})")
    return results


def drift(models: list[Calibrated]) -> list[tuple[str, list[dict[str, Any]]]]:
    """fp16 and int8 variants against their fp32 sibling, on the builtin kernels."""
    fp32 = {m.family: m for m in models if m.variant == "fp32"}
    found = []
    for model in models:
        sibling = fp32.get(model.family)
        if sibling is None or model is sibling:
            continue
        pairs = zip(sibling.outputs["cpu"], model.outputs["cpu"], strict=True)
        found.append((f"{model.name} vs fp32", [measure(a, b, "cpu") for a, b in pairs]))
    return found


# --- printing ---

MEASURES = ("steps", "rms_steps", "rel_range", "rms_rel", "one_minus_cos", "topk")


def spread(rows: list[dict[str, Any]], key: str) -> str:
    values = np.asarray([r[key] for r in rows if r.get(key) is not None], dtype=np.float64)
    if not values.size:
        return "-"
    if key == "topk":
        return f"min {values.min():.2f}"
    p50, p99 = np.percentile(values, [50, 99])
    return f"{p50:.3g}/{p99:.3g}/{values.max():.3g}"


def print_table(title: str, named_rows: list[tuple[str, list[dict[str, Any]]]]) -> None:
    print(f"\n## {title} (p50/p99/max over seeds)")
    header = ("model", "kind", "alarms", *MEASURES)
    print(" | ".join(header))
    for name, rows in named_rows:
        kind = next((r["kind"] for r in rows if "kind" in r), "?")
        alarms = sum(r["class"] is not None for r in rows)
        print(
            " | ".join((name, kind, f"{alarms}/{len(rows)}", *(spread(rows, k) for k in MEASURES)))
        )


def print_kinds(models: list[Calibrated]) -> None:
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for model in models:
        for row in model.rows:
            by_kind[row.get("kind", "?")].append(row)
    print_table("xnnpack vs cpu, per output kind", sorted(by_kind.items()))


def print_detection(models: list[Calibrated]) -> int:
    print("\n## injected corruptions of the real xnnpack outputs (detected with the right class)")
    missed = 0
    for model in models:
        cells = []
        for name, results in detect(model).items():
            applicable = [r for r in results if r != "n/a"]
            wrong = [r for r in applicable if r != "ok"]
            missed += len(wrong)
            text = f"{len(applicable) - len(wrong)}/{len(applicable)}" if applicable else "n/a"
            cells.append(f"{name}: {text}" + (f" ({wrong[0]})" if wrong else ""))
        print(f"{model.name}: " + "; ".join(cells))
    return missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("models", nargs="*", help="only these (default: all)")
    args = parser.parse_args(argv)
    models = all_models(args.models)
    for model in models:
        calibrate(model, args.seeds)
    print_table("xnnpack vs cpu, per model", [(m.name, m.rows) for m in models])
    print_kinds(models)
    print_table("drift from fp32 (reported, not gated by default)", drift(models))
    false_alarms = sum(r["class"] is not None for m in models for r in m.rows)
    missed = print_detection(models)
    print(f"\nfalse alarms: {false_alarms}; corruptions missed or misclassified: {missed}")
    return 1 if false_alarms or missed else 0


if __name__ == "__main__":
    sys.exit(main())
