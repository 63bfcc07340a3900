"""Measure LiteRT's accelerators against the builtin CPU kernels, to set their tolerances.

``python -m tests.perf.calibrate_accelerators --seeds 10`` (``tox -e calibrate`` runs the
xnnpack calibration, calibrate_parity.py): for the shipped models and every seed, the farm's
seeded inputs through LiteRT's builtin kernels (``cpu``, the parity reference) and through each
accelerator's CompiledModel, made and read with the runner's own functions, in this process.
Prints per accelerator and model the distributions of the measures farm.parity gates on
(cosine, RMS error relative to the reference's RMS, RMS and max error in quantization steps)
and how many seeds the default tolerances would fail (must be 0).

The accelerators: ``npu`` is Intel OpenVINO through the wheel's NPU dispatch library, on
OpenVINO's CPU device (``graph_backend=CPU``; ``--npu-option KEY=VALUE`` adds an OpenVINO
config, e.g. ``INFERENCE_PRECISION_HINT=bf16``); ``gpu`` / ``gpu_fp32`` run when a Vulkan
driver is there (SwiftShader: set VK_ICD_FILENAMES and LD_LIBRARY_PATH before Python starts).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from farm.config import load_models
from farm.parity import default_tolerance, judge, make_inputs
from farm.runners import litert_runner
from farm.runners.litert_runner import compiled

from .calibrate_parity import MODELS, Outputs, input_specs, run_seeds

MEASURES = ("cosine", "rms_rel", "rms_steps", "max_abs_steps")


def accelerated_seeds(path: Path, delegate: str, seeds: int, options: dict[str, str]) -> list:
    """One CompiledModel (1 thread), one inference per seed, outputs as the runner saves them."""
    _, _, runtime = litert_runner.load_runtime("ai_edge_litert")
    args = argparse.Namespace(
        model=str(path), delegate=delegate, threads=1, delegate_option=dict(options)
    )
    reader = runtime.Interpreter(model_path=str(path))
    model = compiled._compiled_model_api().CompiledModel.from_file(
        str(path), options=compiled.accelerator_options(args)
    )
    buffers = model.create_input_buffers(0), model.create_output_buffers(0)
    ins, outs = compiled.io_order(reader, model)
    inference = compiled.CompiledInference(model, buffers, outs)
    found = []
    for seed in range(seeds):
        values = make_inputs(input_specs(reader), seed)
        for i, (position, detail) in enumerate(ins):
            buffers[0][position].write(litert_runner.as_input(values[f"input_{i}"], detail))
        inference()
        arrays: Outputs = {}
        for i, ((_, detail), value) in enumerate(zip(outs, inference.last, strict=True)):
            arrays.update(litert_runner.output_arrays(i, value.copy(), detail))
        found.append(arrays)
    return found


def measured(reference: Outputs, outputs: Outputs, delegate: str) -> dict[str, Any]:
    """The comparison's measures and whether the default tolerance fails it."""
    judged = judge(reference, outputs, None, delegate)
    comparison = judged.comparison
    assert comparison is not None
    row = {key: getattr(comparison, key) for key in MEASURES}
    row["fails"] = judged.failure_class is not None
    row["tolerance"] = default_tolerance(comparison, delegate)
    return row


def spread(rows: list[dict[str, Any]], key: str) -> str:
    values = np.asarray([r[key] for r in rows if r[key] is not None], dtype=np.float64)
    if not values.size:
        return "-"
    return f"{values.min():.4g}/{np.median(values):.4g}/{values.max():.4g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--delegates", default="npu", help="comma-separated: npu,gpu,gpu_fp32")
    parser.add_argument("--npu-option", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("models", nargs="*", help="only these (default: the shipped six)")
    args = parser.parse_args(argv)
    options = dict(o.split("=", 1) for o in ["graph_backend=CPU", *args.npu_option])
    rows: dict[str, list[tuple[str, list[dict[str, Any]]]]] = defaultdict(list)
    for model in load_models(MODELS):
        if args.models and model.name not in args.models:
            continue
        reference = run_seeds(Path(model.path), "cpu", args.seeds)
        for delegate in args.delegates.split(","):
            found = accelerated_seeds(Path(model.path), delegate, args.seeds, options)
            pairs = zip(reference, found, strict=True)
            rows[delegate].append((model.name, [measured(r, o, delegate) for r, o in pairs]))
    failed = 0
    for delegate, named in rows.items():
        print(f"\n{delegate} vs cpu, {args.seeds} seeds (min / median / max)")
        for name, found in named:
            cells = [f"{key} {spread(found, key)}" for key in MEASURES]
            fails = sum(r["fails"] for r in found)
            failed += fails
            print(f"  {name}: " + "; ".join(cells) + f"; fails {fails} ({found[0]['tolerance']})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
