"""The LiteRT Python runner: benchmark one cell (one model, one delegate, one thread count).

This package is pushed to targets as ONE zipapp (``runner.pyz``, built by
farm.runners.python.runner_archive) and run there on its own as ``python3 runner.pyz ARGS``: it
needs only Python >= 3.8, numpy and one of ``ai_edge_litert`` (preferred: the maintained
runtime), ``tflite_runtime`` (legacy boards; it needs numpy < 2) or ``tensorflow.lite``. Its
modules import each other relatively and nothing from the farm, so the same files run inside
the zipapp and as ``farm.runners.litert_runner`` on the host (which reuses its tensor functions).

It always writes one JSON object to ``--out`` (status ok / failed / skipped, with the reason) and
exits 0; exit 2 means its own arguments were wrong. Every invoke is timed with perf_counter_ns and
every sample is kept; statistics are computed by the farm, not here.

Modules: ``outcome`` (how a cell ends early), ``runtime`` (which TFLite runtime, the probe),
``tensors`` (inputs and outputs), ``timing``, ``interpreter`` (the classic Interpreter with
delegates), ``accelerator_log`` (what LiteRT's accelerators say they ran), ``compiled`` (the
CompiledModel path), ``main`` (argv and the JSON protocol).
"""

from __future__ import annotations

from .interpreter import delegation_coverage, make_interpreter
from .main import main, parse_args
from .outcome import CellOutcome
from .runtime import load_runtime
from .tensors import as_input, make_inputs, output_arrays, set_inputs

__all__ = [
    "CellOutcome",
    "as_input",
    "delegation_coverage",
    "load_runtime",
    "main",
    "make_inputs",
    "make_interpreter",
    "output_arrays",
    "parse_args",
    "set_inputs",
]
