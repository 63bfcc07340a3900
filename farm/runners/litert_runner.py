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
import hashlib
import importlib
import json
import os
import platform
import re
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
# LiteRT 2.x's CompiledModel accelerators by the farm's delegate name (the classic Interpreter
# runs the rest). The CPU is always a fallback for ops the accelerator lacks, as in LiteRT's
# own `litert` CLI; whether the accelerator took any op is read from its log, never assumed.
ACCELERATORS = ("litert_cpu", "gpu", "gpu_fp32", "npu")
# What the accelerators print (LiteRT 2.3 on stderr): the GPU delegate's partition summary
# (tflite/delegates/gpu/common/model_builder.cc), its kernel per partition, and the NPU
# compiler plugin's partitioning (litert/compiler/plugin/compiler_plugin.cc).
GPU_SPLIT = re.compile(r"(\d+) operations will run on the GPU, and the remaining (\d+) operations")
GPU_NONE = re.compile(r"No operations will run on the GPU, and all (\d+) operations")
# "Following operations are not supported by GPU delegate:" then one "OP: why" line per op
# ("ZEROS_LIKE: Operation is not supported.", "RELU_0_TO_1: Not supported op RELU_0_TO_1").
GPU_MISSING = re.compile(r"not supported by GPU delegate:\n((?:[A-Z0-9_]+: .*\n)+)")
GPU_KERNEL = re.compile(r"Initializ\w+ (\w+)-based API")
# "Selected adapter: SwiftShader Device (Subzero), arch=swiftshader, vendor=google,
# backend=Vulkan, adapterType=CPU / Software" (Dawn, through LiteRT's WebGPU accelerator).
GPU_ADAPTER = re.compile(r"Selected adapter: ([^,\n]+)(?:.*adapterType=([^\n]+))?")
NPU_SPLIT = re.compile(
    r"selected (\d+) ops, from a total of (\d+) ops\. resulted in (\d+) partitions"
)
NPU_DEVICE = re.compile(r"Using Intel OpenVINO device: (\S+)")
NPU_APPLIED = re.compile(r"(\d+) compiler plugins were applied successfully")
NPU_ERROR = re.compile(r"^.*(?:compiler loading failed|Plugin errs).*$", re.M)


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
    if args.delegate in ("nnapi", "hexagon"):
        reason = f"the Python runner has no {args.delegate} delegate (use runner: benchmark_model)"
        raise CellOutcome("skipped", None, reason)
    raise CellOutcome("skipped", None, f"no {args.delegate} delegate library given to the runner")


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


def invoker(interpreter: object, delegate: str) -> object:
    """The classic Interpreter's invoke, its errors as the cell's."""

    def invoke() -> None:
        try:
            interpreter.invoke()
        except (ValueError, RuntimeError) as exc:
            kind = "model" if delegate == "cpu" else "delegate"
            raise CellOutcome("failed", kind, f"invoke failed: {_reason(exc)}") from exc

    return invoke


def timed(invoke: object) -> float:
    start = time.perf_counter_ns()
    invoke()
    return (time.perf_counter_ns() - start) / 1e6


def measure(invoke: object, args: argparse.Namespace) -> dict:
    """First inference, warm-up and timed samples (ms). Runs >= --runs and >= --min-seconds."""
    first_ms = timed(invoke)
    warmup = [timed(invoke) for _ in range(max(args.warmup - 1, 0))]
    samples = []
    deadline = time.perf_counter() + args.min_seconds
    while len(samples) < args.runs or time.perf_counter() < deadline:
        samples.append(timed(invoke))
    return {
        "first_inference_ms": first_ms,
        "warmup_ms": sum(warmup) / len(warmup) if warmup else None,
        "samples_ms": samples,
    }


def save_outputs(interpreter: object, path: str) -> None:
    """Every output of the last invoke, dequantized to float32 when quantized, so outputs of
    any variant and delegate compare as real values."""

    tensors = {}
    for i, detail in enumerate(interpreter.get_output_details()):
        tensors.update(output_arrays(i, interpreter.get_tensor(detail["index"]), detail))
    _save(tensors, path)


def _save(tensors: dict, path: str) -> None:
    import numpy as np

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
    result.update(runtime=name, runtime_version=version, api="interpreter")
    if args.delegate in ACCELERATORS:
        run_compiled(rt, args, result)
        return
    start = time.perf_counter_ns()
    interpreter = make_interpreter(rt, args)
    result["init_ms"] = (time.perf_counter_ns() - start) / 1e6
    result.update(delegation_coverage(interpreter))
    set_inputs(interpreter, make_inputs(interpreter, args.seed, args.inputs))
    result.update(measure(invoker(interpreter, args.delegate), args))
    if args.outputs:
        save_outputs(interpreter, args.outputs)
    result["status"] = "ok"


def run_compiled(rt: object, args: argparse.Namespace, result: dict) -> None:
    """One accelerator cell through CompiledModel. A sample is a completed inference: run,
    then read every output (a GPU's run only submits work and returns at once)."""
    cm = _compiled_model_api()
    reader = rt.Interpreter(model_path=args.model)  # tensor details, node count: not run
    result["api"] = "compiled_model"
    with NativeStderr() as log:  # the accelerators say what they did only there
        start, error = time.perf_counter_ns(), None
        try:
            model = cm.CompiledModel.from_file(args.model, options=accelerator_options(args))
            compiled = time.perf_counter_ns()
            buffers = model.create_input_buffers(0), model.create_output_buffers(0)
        except RuntimeError as exc:
            error = exc
    if error is not None:  # the exception names only source lines: the log says why
        said = [line for line in log.text.splitlines() if "ERROR" in line or "rror:" in line]
        reason = _reason(Exception("; ".join([str(error), *said[-3:]])))
        raise no_accelerator(args.delegate, log.text) or CellOutcome("failed", "delegate", reason)
    result.update(
        compile_ms=(compiled - start) / 1e6, init_ms=(time.perf_counter_ns() - start) / 1e6
    )
    result.update(accelerator_coverage(args.delegate, log.text, len(reader._get_ops_details())))
    result.update(accelerator_facts(args.delegate, log.text))
    ins, outs = io_order(reader, model)
    values = make_inputs(reader, args.seed, args.inputs)
    for (position, _), value in zip(ins, values):
        buffers[0][position].write(value)
    inference = CompiledInference(model, buffers, outs)
    result.update(measure(inference, args))
    if args.outputs:  # the last timed inference's, as on the Interpreter path
        tensors = {}
        for i, ((_, detail), value) in enumerate(zip(outs, inference.last)):
            tensors.update(output_arrays(i, value, detail))
        _save(tensors, args.outputs)
    result["status"] = "ok"


def no_accelerator(delegate: str, log: str) -> CellOutcome | None:
    """A skip when the device has no such accelerator at all (no GPU adapter: no Vulkan
    driver, or one Dawn rejects), saying the runtime's own words."""
    keys = ("Couldn't load Vulkan", "No adapters found", "Failed to initialize", "OpenCL")
    lines = [" ".join(line.split()) for line in log.splitlines() if any(k in line for k in keys)]
    if not delegate.startswith("gpu") or not lines:
        return None
    reason = "; ".join(dict.fromkeys(lines))[:1000]
    return CellOutcome("skipped", None, f"LiteRT GPU accelerator unavailable: {reason}")


def _compiled_model_api() -> object:
    try:
        from ai_edge_litert import compiled_model
    except ImportError as exc:
        reason = f"no LiteRT CompiledModel in this runtime ({exc})"
        raise CellOutcome("skipped", None, reason) from exc
    return compiled_model


def accelerator_options(args: argparse.Namespace) -> object:
    from ai_edge_litert.cpu_options import CpuOptions
    from ai_edge_litert.gpu_options import GpuOptions
    from ai_edge_litert.hardware_accelerator import HardwareAccelerator as Hw
    from ai_edge_litert.options import Options

    cpu = CpuOptions(num_threads=args.threads)
    if args.delegate == "litert_cpu":
        return Options(hardware_accelerators=Hw.CPU, cpu_options=cpu)
    if args.delegate.startswith("gpu"):
        gpu = GpuOptions(enforce_f32=args.delegate == "gpu_fp32")  # else fp16, the default
        return Options(hardware_accelerators=Hw.GPU | Hw.CPU, cpu_options=cpu, gpu_options=gpu)
    vendor = openvino_options(args.delegate_option)
    return Options(Hw.NPU | Hw.CPU, cpu_options=cpu, intel_openvino_options=vendor)


def openvino_options(options: dict) -> object:
    """Intel OpenVINO's options from the cell's (``graph_backend: CPU``...), or None."""
    if not options:
        return None
    from ai_edge_litert import intel_openvino_options as ov

    backend = options.pop("graph_backend", None)
    mode = options.pop("performance_mode", None)
    try:
        return ov.IntelOpenVinoOptions(
            graph_backend=backend and ov.IntelOpenVinoGraphBackend[backend.upper()],
            performance_mode=mode and ov.IntelOpenVinoPerformanceMode[mode.upper()],
            configs_map=options,
        )
    except KeyError as exc:
        reason = f"unknown Intel OpenVINO option value {exc}"
        raise CellOutcome("failed", "delegate", reason) from exc


def accelerator_coverage(delegate: str, log: str, nodes: int) -> dict:
    """What ran on the accelerator, from its own words. No evidence that it took any node is a
    silent CPU fallback, whatever the runtime's is_fully_accelerated() says."""
    if delegate == "litert_cpu":
        return {"nodes_delegated": nodes, "nodes_total": nodes, "partitions": 1,
                "fully_delegated": True, "cpu_fallback_ops": {}}  # fmt: skip
    taken, total, partitions = _split(delegate, log, nodes)
    missing = dict(Counter(unsupported_ops(log)))
    if not taken:
        said = [f"{op}: not supported" for op in missing] + NPU_ERROR.findall(log)[:2]
        why = "; ".join(" ".join(w.split())[:300] for w in said) or "no partition in its log"
        raise CellOutcome(
            "failed", "fallback", f"silent CPU fallback: {delegate} took no op ({why})"
        )
    return {"nodes_delegated": taken, "nodes_total": total, "partitions": partitions,
            "fully_delegated": taken == total, "cpu_fallback_ops": missing}  # fmt: skip


def unsupported_ops(log: str) -> list:
    """The ops the GPU delegate listed as unsupported (their names, once per listing)."""
    return [line.split(":")[0] for block in GPU_MISSING.findall(log) for line in block.split("\n")
            if line]  # fmt: skip


def _split(delegate: str, log: str, nodes: int) -> tuple:
    if delegate == "npu":  # partitioned is not compiled: a plugin that failed took nothing
        found = NPU_SPLIT.findall(log)
        applied = sum(int(n) for n in NPU_APPLIED.findall(log))
        if not (found and applied):
            return 0, nodes, 0
        return tuple(sum(int(f[i]) for f in found) for i in range(3))
    if GPU_NONE.search(log):
        return 0, nodes, 0
    kernels = len(GPU_KERNEL.findall(log))
    split = GPU_SPLIT.search(log)
    if split:
        return int(split.group(1)), int(split.group(1)) + int(split.group(2)), kernels
    return (nodes, nodes, kernels) if kernels else (0, nodes, 0)


def accelerator_facts(delegate: str, log: str) -> dict:
    """Which accelerator ran (a GPU adapter, an NPU vendor device) and its software, for
    provenance: a software GPU's latency must never be read as a phone's."""
    if delegate.startswith("gpu"):
        adapter, backend = GPU_ADAPTER.search(log), GPU_KERNEL.search(log)
        kind = adapter and adapter.group(2) and f" [{adapter.group(2).strip()}]"
        name = adapter and adapter.group(1).strip() + (kind or "")
        words = [name, backend and backend.group(1)]
        return {"accelerator": " via ".join(w for w in words if w) or None}
    if delegate != "npu":
        return {"accelerator": "XNNPACK (CompiledModel CPU)"}
    device = NPU_DEVICE.search(log)
    facts = {"accelerator": "Intel OpenVINO" + (f" {device.group(1)}" if device else "")}
    facts.update(npu_sdk())
    return facts


def npu_sdk() -> dict:
    """The vendor SDK's version and the dispatch library's sha256 (the wheel's own)."""
    import glob

    from ai_edge_litert import environment

    vendors = os.path.join(os.path.dirname(environment.__file__), "vendors")
    libraries = glob.glob(os.path.join(vendors, "*", "dispatch", "libLiteRtDispatch_*.so"))
    found = {"accelerator_sdk": "openvino " + _dist_version("openvino", None)}
    if libraries:
        with open(libraries[0], "rb") as library:
            found["dispatch_sha256"] = hashlib.sha256(library.read()).hexdigest()
    return found


def io_order(reader: object, model: object) -> tuple:
    """(buffer position, Interpreter detail) of each input and output in the Interpreter's
    order, the order of the farm's input_N / output_N; a signature may list them otherwise."""
    signature = model.get_signature_by_index(0)
    names = reader.get_signature_list()
    runner = reader.get_signature_runner(signature["key"]) if names else None
    orders = []
    for side in ("inputs", "outputs"):
        if runner is None:  # no signature: the default one names tensors by their own names
            by_index = {d["index"]: d["name"] for d in _details(reader, side)}
        else:
            sig = runner.get_input_details() if side == "inputs" else runner.get_output_details()
            by_index = {d["index"]: name for name, d in sig.items()}
        listed = list(signature[side])
        orders.append([(listed.index(by_index[d["index"]]), d) for d in _details(reader, side)])
    return tuple(orders)


def _details(reader: object, side: str) -> list:
    return reader.get_input_details() if side == "inputs" else reader.get_output_details()


class CompiledInference:
    """One completed inference when called: run, then read every output (``last``)."""

    def __init__(self, model: object, buffers: tuple, outs: list) -> None:
        self.model, self.buffers, self.outs, self.last = model, buffers, outs, []

    def __call__(self) -> None:
        import numpy as np

        inputs, outputs = self.buffers
        try:
            self.model.run_by_index(0, inputs, outputs)
            self.last = [
                outputs[position].read(int(np.prod(d["shape"])), d["dtype"]).reshape(d["shape"])
                for position, d in self.outs
            ]
        except (ValueError, RuntimeError) as exc:
            raise CellOutcome("failed", "delegate", f"run failed: {_reason(exc)}") from exc


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
