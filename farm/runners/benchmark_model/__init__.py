"""Drive TensorFlow Lite's / LiteRT's native ``benchmark_model``: build its argv, read its output.

One module per concept: `argv` builds the command line, `parse` reads the output (with
`lines`, `summary`, `memory`, `delegation` and `op_profile`) into the `records`, `outcome`
turns a parse into the orchestrator's outcome, and `tensor_files` writes the raw input files
and reads the raw output file that parity compares. Callers need only this package.
"""

from __future__ import annotations

from farm.runners.benchmark_model.argv import (
    BENCHMARK_MODEL_DELEGATES,
    InputFile,
    build_benchmark_model_argv,
)
from farm.runners.benchmark_model.outcome import benchmark_outcome
from farm.runners.benchmark_model.parse import parse_benchmark_model_output
from farm.runners.benchmark_model.records import (
    BenchmarkParse,
    DelegateCoverage,
    OpProfileRow,
    StatLine,
)

__all__ = [
    "BENCHMARK_MODEL_DELEGATES",
    "BenchmarkParse",
    "DelegateCoverage",
    "InputFile",
    "OpProfileRow",
    "StatLine",
    "benchmark_outcome",
    "build_benchmark_model_argv",
    "parse_benchmark_model_output",
]
