#!/usr/bin/env python3
"""Benchmark one cell (one model, one delegate, one thread count) with the TFLite Python API.

This file is pushed to targets and run there on its own: it needs only Python >= 3.8, numpy and
one of ``ai_edge_litert`` (preferred: the maintained runtime), ``tflite_runtime`` (legacy boards;
it needs numpy < 2) or ``tensorflow.lite``. It must not import anything from the farm.

It always writes one JSON object to ``--out`` (status ok / failed / skipped, with the reason) and
exits 0; exit 2 means its own arguments were wrong. Every invoke is timed with perf_counter_ns and
every sample is kept; statistics are computed by the farm, not here.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import resource
import sys
import time
from collections import Counter

RUNTIMES = (
    ("ai_edge_litert", "ai_edge_litert.interpreter", "ai-edge-litert"),
    ("tflite_runtime", "tflite_runtime.interpreter", "tflite-runtime"),
    ("tensorflow", "tensorflow.lite.python.interpreter", "tensorflow"),
)
EDGETPU_LIBRARY = "libedgetpu.so.1"


class CellOutcome(Exception):
    """Ends the cell early with a status other than ok."""

    def __init__(self, status: str, kind: str | None, reason: str) -> None:
        super().__init__(reason)
        self.status, self.kind, self.reason = status, kind, reason


def load_runtime(preferred: str | None) -> tuple[str, str, object]:
    """Import the first TFLite runtime available (or the one asked for); name, version, module."""
    errors = []
    for name, module_name, dist in RUNTIMES:
        if preferred and name != preferred:
            continue
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            errors.append(f"{name}: {exc}")  # or AttributeError ("_ARRAY_API not found")
            continue
        return name, _dist_version(dist, module), module
    raise CellOutcome("failed", "infra", "no TFLite runtime importable (" + "; ".join(errors) + ")")


def _dist_version(dist: str, module: object) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return str(getattr(module, "__version__", "unknown"))


def build_delegates(rt: object, args: argparse.Namespace) -> list:
    """The delegate objects for this cell; cpu and xnnpack need none (see resolver_type)."""
    if args.delegate in ("cpu", "xnnpack"):
        return []
    if args.delegate == "edgetpu":
        options = {"device": args.delegate_option.get("device")} if args.delegate_option else {}
        return [_load(rt, EDGETPU_LIBRARY, options, missing_is_skip=True)]
    if args.delegate_path:
        return [_load(rt, args.delegate_path, args.delegate_option, missing_is_skip=False)]
    if args.delegate == "gpu":
        raise gpu_accelerator_outcome(args.model)
    if args.delegate in ("nnapi", "hexagon"):
        reason = f"the Python runner has no {args.delegate} delegate (use runner: benchmark_model)"
        raise CellOutcome("skipped", None, reason)
    raise CellOutcome("skipped", None, f"no {args.delegate} delegate library given to the runner")


def gpu_accelerator_outcome(model: str) -> CellOutcome:
    """Ask LiteRT's GPU accelerator (CompiledModel API) for this model. Without a GPU adapter
    it fails and only says why on native stderr, which is captured for the reason."""
    try:
        from ai_edge_litert import compiled_model, hardware_accelerator
    except ImportError as exc:
        return CellOutcome("skipped", None, f"no LiteRT GPU accelerator in this runtime ({exc})")
    gpu, error = hardware_accelerator.HardwareAccelerator.GPU, None
    with NativeStderr() as stderr:
        try:
            compiled_model.CompiledModel.from_file(model, hardware_accel=gpu)
        except RuntimeError as exc:
            error = str(exc)
    if error is not None:
        reason = _gpu_reason(stderr.text) or _reason(Exception(error))
        return CellOutcome("skipped", None, f"LiteRT GPU accelerator unavailable: {reason}")
    # Timing through CompiledModel is not written yet: say so rather than time the CPU.
    reason = "the LiteRT GPU accelerator loaded, but this runner cannot time CompiledModel runs yet"
    return CellOutcome("failed", "delegate", reason)


def _gpu_reason(stderr: str) -> str:
    keys = ("Couldn't load Vulkan", "No adapters found", "Failed to initialize", "OpenCL")
    lines = [" ".join(line.split()) for line in stderr.splitlines() if any(k in line for k in keys)]
    return "; ".join(dict.fromkeys(lines))[:1000]


class NativeStderr:
    """Captures what native code writes to file descriptor 2 inside the block."""

    def __enter__(self) -> "NativeStderr":
        import tempfile

        sys.stderr.flush()
        self._file = tempfile.TemporaryFile()
        self._saved = os.dup(2)
        os.dup2(self._file.fileno(), 2)
        self.text = ""
        return self

    def __exit__(self, *exc: object) -> None:
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._file.seek(0)
        self.text = self._file.read().decode(errors="replace")
        self._file.close()


def _load(rt: object, library: str, options: dict, missing_is_skip: bool) -> object:
    try:
        return rt.load_delegate(library, {k: v for k, v in options.items() if v is not None})
    except (ValueError, OSError, RuntimeError, AttributeError) as exc:
        # AttributeError: ctypes finds no tflite_plugin_create_delegate in the library.
        if missing_is_skip:
            reason = f"no Edge TPU runtime on {platform.node()}: {library} did not load ({exc})"
            raise CellOutcome("skipped", None, reason) from exc
        raise CellOutcome("failed", "delegate", f"cannot load delegate {library}: {exc}") from exc


def resolver_type(rt: object, delegate: str) -> object:
    # BUILTIN_WITHOUT_DEFAULT_DELEGATES gives TFLite's own kernels with no XNNPACK applied: the
    # same baseline as `benchmark_model --use_xnnpack=false`. AUTO applies XNNPACK by default.
    kinds = rt.OpResolverType
    return kinds.AUTO if delegate == "xnnpack" else kinds.BUILTIN_WITHOUT_DEFAULT_DELEGATES


def make_interpreter(rt: object, args: argparse.Namespace) -> object:
    delegates = build_delegates(rt, args)
    try:
        interpreter = rt.Interpreter(
            model_path=args.model,
            num_threads=args.threads,
            experimental_delegates=delegates or None,
            experimental_op_resolver_type=resolver_type(rt, args.delegate),
        )
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        # With a delegate attached, prepare errors usually come from the delegate; without one,
        # the model itself (an unsupported op, a custom op the runtime lacks, a corrupt file).
        raise CellOutcome("failed", "delegate" if delegates else "model", _reason(exc)) from exc
    return interpreter


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:2000] or type(exc).__name__


def make_inputs(interpreter: object, seed: int, inputs_file: str | None) -> list:
    import numpy as np

    details = interpreter.get_input_details()
    if inputs_file:
        stored = np.load(inputs_file)
        return [as_input(stored[f"input_{i}"], d) for i, d in enumerate(details)]
    rng = np.random.default_rng(seed)
    return [_random_tensor(rng, d["shape"], np.dtype(d["dtype"])) for d in details]


def _random_tensor(rng: object, shape: object, dtype: object) -> object:
    import numpy as np

    if dtype.kind == "f":
        return rng.uniform(-1.0, 1.0, size=tuple(shape)).astype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        low, high = max(info.min, -128), min(info.max, 127)
        return rng.integers(low, high, size=tuple(shape), endpoint=True).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 1, size=tuple(shape), endpoint=True).astype(dtype)
    raise CellOutcome("failed", "model", f"cannot make a random input of dtype {dtype}")


def as_input(value: object, detail: dict) -> object:
    """A given input in the tensor's own type. Float values for a quantized (int8/uint8)
    input are quantized with its scale and zero point, so every variant of a model family
    sees the same real-valued input and their outputs can be compared. The host makes
    benchmark_model's input files with it too (``detail`` as LiteRT's input details)."""
    import numpy as np

    dtype = np.dtype(detail["dtype"])
    scale, zero_point = detail.get("quantization", (0.0, 0))
    if value.dtype.kind == "f" and dtype.kind in "iu" and scale:
        info = np.iinfo(dtype)
        value = np.clip(np.round(value / scale) + zero_point, info.min, info.max)
    return np.asarray(value).astype(dtype).reshape(detail["shape"])


def set_inputs(interpreter: object, inputs: list) -> None:
    for detail, value in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(detail["index"], value)


def timed_invoke(interpreter: object, delegate: str) -> float:
    start = time.perf_counter_ns()
    try:
        interpreter.invoke()
    except (ValueError, RuntimeError) as exc:
        kind = "model" if delegate == "cpu" else "delegate"
        raise CellOutcome("failed", kind, f"invoke failed: {_reason(exc)}") from exc
    return (time.perf_counter_ns() - start) / 1e6


def measure(interpreter: object, args: argparse.Namespace) -> dict:
    """First inference, warm-up and timed samples (ms). Runs >= --runs and >= --min-seconds."""
    first_ms = timed_invoke(interpreter, args.delegate)
    warmup = [timed_invoke(interpreter, args.delegate) for _ in range(max(args.warmup - 1, 0))]
    samples = []
    deadline = time.perf_counter() + args.min_seconds
    while len(samples) < args.runs or time.perf_counter() < deadline:
        samples.append(timed_invoke(interpreter, args.delegate))
    return {
        "first_inference_ms": first_ms,
        "warmup_ms": sum(warmup) / len(warmup) if warmup else None,
        "samples_ms": samples,
    }


def save_outputs(interpreter: object, path: str) -> None:
    """Every output of the last invoke, dequantized to float32 when quantized, so outputs of
    any variant and delegate compare as real values."""
    import numpy as np

    tensors = {}
    for i, detail in enumerate(interpreter.get_output_details()):
        tensors.update(output_arrays(i, interpreter.get_tensor(detail["index"]), detail))
    with open(path, "wb") as out:  # np.savez appends .npz to a bare path; a file object not
        np.savez(out, **tensors)


def output_arrays(i: int, value: object, detail: dict) -> dict:
    """``output_i`` as parity reads it (and ``scale_i``, one quantization step, when it was
    quantized); the host reads benchmark_model's raw outputs with it too."""
    import numpy as np

    scale, zero_point = detail.get("quantization", (0.0, 0))
    if not (scale and value.dtype.kind in "iu"):
        return {f"output_{i}": value}
    real = (value.astype(np.float32) - zero_point) * np.float32(scale)
    return {f"output_{i}": real, f"scale_{i}": np.float32(scale)}


def delegation_coverage(interpreter: object) -> dict:
    """How much of the graph delegates took, from the interpreter's node list.

    After a delegate is applied the node list holds every original node plus one node per
    delegated partition (op name DELEGATE) whose inputs and outputs are the partition's
    boundary tensors. A partition is convex, so walking back from its outputs to its inputs
    through producing nodes finds exactly the nodes it replaced.
    """
    ops = interpreter._get_ops_details()
    partitions = [op for op in ops if op["op_name"] == "DELEGATE"]
    original = [op for op in ops if op["op_name"] != "DELEGATE"]
    taken = set()
    for partition in partitions:
        taken |= _partition_nodes(original, set(partition["inputs"]), partition["outputs"])
    fallback = dict(Counter(op["op_name"] for op in original if op["index"] not in taken))
    return {
        "nodes_delegated": len(taken),
        "nodes_total": len(original),
        "partitions": len(partitions),
        "fully_delegated": bool(original) and not fallback,
        "cpu_fallback_ops": fallback,
    }


def _partition_nodes(ops: list, boundary_inputs: set, outputs: object) -> set:
    producer = {t: op for op in ops for t in op["outputs"]}
    found, todo = set(), list(outputs)
    while todo:
        tensor = todo.pop()
        op = producer.get(tensor)
        if tensor in boundary_inputs or op is None or op["index"] in found:
            continue
        found.add(op["index"])
        todo.extend(op["inputs"])
    return found


def peak_rss_mb() -> float | None:
    """Peak resident set of this process (VmHWM), which holds one cell: Python, runtime, model."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def run_cell(args: argparse.Namespace, result: dict) -> None:
    name, version, rt = load_runtime(args.runtime)
    result.update(runtime=name, runtime_version=version)
    start = time.perf_counter_ns()
    interpreter = make_interpreter(rt, args)
    result["init_ms"] = (time.perf_counter_ns() - start) / 1e6
    result.update(delegation_coverage(interpreter))
    set_inputs(interpreter, make_inputs(interpreter, args.seed, args.inputs))
    result.update(measure(interpreter, args))
    if args.outputs:
        save_outputs(interpreter, args.outputs)
    result["status"] = "ok"


def parse_args(argv: list) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True, help="where to write the result JSON")
    parser.add_argument("--delegate", default="xnnpack")
    parser.add_argument("--delegate-path", help="a delegate .so (external, gpu)")
    parser.add_argument("--delegate-option", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--min-seconds", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--inputs", help="an .npz with input_0, input_1, ... (else seeded random)")
    parser.add_argument("--outputs", help="write the output tensors of the last invoke (.npz)")
    parser.add_argument("--runtime", choices=[r[0] for r in RUNTIMES], help="force one runtime")
    args = parser.parse_args(argv)
    args.delegate_option = dict(o.split("=", 1) for o in args.delegate_option if "=" in o)
    return args


def probe() -> dict:
    """What this device can run: each runtime's version or why it does not import, and
    whether the Edge TPU runtime loads. ``litert_runner.py --probe`` prints it as JSON."""
    runtimes, first = {}, None
    for name, _, _ in RUNTIMES:
        try:
            _, version, module = load_runtime(name)
            runtimes[name] = {"version": version}
            first = first or module
        except CellOutcome as outcome:
            runtimes[name] = {"error": outcome.reason}
    facts = {"python": platform.python_version(), "machine": platform.machine()}
    facts.update(runtimes=runtimes, edgetpu=_probe_edgetpu(first))
    return facts


def _probe_edgetpu(rt: object) -> dict:
    if rt is None:
        return {"error": "no TFLite runtime to load it with"}
    try:
        rt.load_delegate(EDGETPU_LIBRARY)
    except (ValueError, OSError, RuntimeError) as exc:
        return {"error": f"{EDGETPU_LIBRARY} did not load ({_reason(exc)})"}
    return {"library": EDGETPU_LIBRARY}


def main(argv: list | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--probe"]:
        print(json.dumps(probe()))
        return 0
    args = parse_args(argv)
    result = {"status": "failed", "failure_kind": None, "reason": None, "pid": os.getpid()}
    result.update(python=platform.python_version(), machine=platform.machine())
    started = time.perf_counter()
    try:
        run_cell(args, result)
    except CellOutcome as outcome:
        result.update(status=outcome.status, failure_kind=outcome.kind, reason=outcome.reason)
    result["peak_rss_mb"] = peak_rss_mb()
    result["runner_wall_s"] = time.perf_counter() - started
    with open(args.out + ".tmp", "w") as out:
        json.dump(result, out)
    os.replace(args.out + ".tmp", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
