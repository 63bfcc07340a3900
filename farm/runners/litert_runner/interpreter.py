"""The classic Interpreter path: delegates (cpu, xnnpack, edgetpu, an external .so), invoke,
outputs, and how much of the graph the delegate took, from the interpreter's node list."""

from __future__ import annotations

import argparse
import platform
import time
from collections import Counter

from .outcome import CellOutcome, reason_of
from .runtime import EDGETPU_LIBRARY
from .tensors import make_inputs, output_arrays, save_arrays, set_inputs
from .timing import measure


def run_interpreter(rt: object, args: argparse.Namespace, result: dict) -> None:
    """One cell through the Interpreter: init, coverage, timed invokes, outputs."""
    start = time.perf_counter_ns()
    interpreter = make_interpreter(rt, args)
    result["init_ms"] = (time.perf_counter_ns() - start) / 1e6
    result.update(delegation_coverage(interpreter))
    set_inputs(interpreter, make_inputs(interpreter, args.seed, args.inputs))
    result.update(measure(invoker(interpreter, args.delegate), args))
    if args.outputs:
        save_outputs(interpreter, args.outputs)
    result["status"] = "ok"


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
        raise CellOutcome("failed", "delegate" if delegates else "model", reason_of(exc)) from exc
    return interpreter


def invoker(interpreter: object, delegate: str) -> object:
    """The classic Interpreter's invoke, its errors as the cell's."""

    def invoke() -> None:
        try:
            interpreter.invoke()
        except (ValueError, RuntimeError) as exc:
            kind = "model" if delegate == "cpu" else "delegate"
            raise CellOutcome("failed", kind, f"invoke failed: {reason_of(exc)}") from exc

    return invoke


def save_outputs(interpreter: object, path: str) -> None:
    """Every output of the last invoke, dequantized to float32 when quantized, so outputs of
    any variant and delegate compare as real values."""

    tensors = {}
    for i, detail in enumerate(interpreter.get_output_details()):
        tensors.update(output_arrays(i, interpreter.get_tensor(detail["index"]), detail))
    save_arrays(tensors, path)


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
