"""The CompiledModel path (LiteRT 2.x): its CPU, GPU and NPU accelerators, with the CPU as the
fallback for ops the accelerator lacks, as in LiteRT's own `litert` CLI. A sample is a completed
inference: run, then read every output (a GPU's run only submits work and returns at once)."""

from __future__ import annotations

import argparse
import time

from .accelerator_log import (
    NativeStderr,
    accelerator_coverage,
    accelerator_facts,
    no_accelerator,
)
from .outcome import CellOutcome, reason_of
from .tensors import make_inputs, output_arrays, save_arrays
from .timing import measure

# LiteRT 2.x's CompiledModel accelerators by the farm's delegate name (the classic Interpreter
# runs the rest). Whether the accelerator took any op is read from its log, never assumed.
ACCELERATORS = ("litert_cpu", "gpu", "gpu_fp32", "npu")


def run_compiled(rt: object, args: argparse.Namespace, result: dict) -> None:
    """One accelerator cell through CompiledModel: compile, coverage, timed inferences."""
    reader = rt.Interpreter(model_path=args.model)  # tensor details, node count: not run
    result["api"] = "compiled_model"
    model, buffers, log = _compile(args, result)
    result.update(accelerator_coverage(args.delegate, log, len(reader._get_ops_details())))
    result.update(accelerator_facts(args.delegate, log))
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
        save_arrays(tensors, args.outputs)
    result["status"] = "ok"


def _compile(args: argparse.Namespace, result: dict) -> tuple:
    """The compiled model, its buffers and the accelerator's log; compile_ms and init_ms."""
    cm = _compiled_model_api()
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
        reason = reason_of(Exception("; ".join([str(error), *said[-3:]])))
        raise no_accelerator(args.delegate, log.text) or CellOutcome("failed", "delegate", reason)
    result.update(
        compile_ms=(compiled - start) / 1e6, init_ms=(time.perf_counter_ns() - start) / 1e6
    )
    return model, buffers, log.text


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
            raise CellOutcome("failed", "delegate", f"run failed: {reason_of(exc)}") from exc
