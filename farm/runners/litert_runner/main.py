"""The runner's protocol: its argv, one cell run, one JSON object written to --out, exit 0."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

from .compiled import ACCELERATORS, run_compiled
from .interpreter import run_interpreter
from .outcome import CellOutcome
from .runtime import RUNTIMES, load_runtime, probe
from .timing import peak_rss_mb


def run_cell(args: argparse.Namespace, result: dict) -> None:
    name, version, rt = load_runtime(args.runtime)
    result.update(runtime=name, runtime_version=version, api="interpreter")
    if args.delegate in ACCELERATORS:
        run_compiled(rt, args, result)
    else:
        run_interpreter(rt, args, result)


def parse_args(argv: list) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark one cell (one model, one delegate, one thread count)."
    )
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
