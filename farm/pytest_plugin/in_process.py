"""LiteRT interpreters built in the pytest process, for pytest-benchmark to time.

They are built by the LiteRT runner's own functions (farm/runners/litert_runner/, called with
the argv the farm would pass it), so a local cell means the same here as in a farm run: ``cpu``
is TFLite's builtin kernels with no default delegates (``BUILTIN_WITHOUT_DEFAULT_DELEGATES``,
like ``benchmark_model --use_xnnpack=false``), ``xnnpack`` the default resolver that applies
XNNPACK, ``threads`` the interpreter's ``num_threads``, inputs the runner's seeded random tensors.
One difference: a farm run feeds every variant of a model family the same stored inputs
(farm.parity), here each model gets the runner's own seeded tensors; timing does not depend on
the values.

Only ``cpu`` and ``xnnpack`` run here. The other delegates load a native library (GPU, Edge TPU,
an external .so) that can crash or hang the process holding it: the runner confines that to one
cell's process, in pytest it would take the whole session down.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from farm.spec import Cell

if TYPE_CHECKING:
    from ai_edge_litert.interpreter import Interpreter

IN_PROCESS_DELEGATES = ("cpu", "xnnpack")
RUNTIME = "ai_edge_litert"
RUNNER_MODULE = "farm.runners.litert_runner"


@dataclass(frozen=True)
class InProcessInterpreter:
    """A ready-to-invoke interpreter (inputs set) and what the runner would report about it."""

    interpreter: Any  # ai_edge_litert.interpreter.Interpreter
    runtime: str
    runtime_version: str
    coverage: dict[str, Any]  # nodes_delegated, nodes_total, partitions, ... as the runner's


def open_interpreter(
    model_path: str | os.PathLike[str], delegate: str, threads: int, seed: int = 0
) -> InProcessInterpreter:
    """Build, allocate and fill an interpreter as the runner does for this cell. A delegate
    that cannot run in-process skips the test; a model LiteRT refuses fails it, like a cell."""
    __tracebackhide__ = True  # a skip reported with -rs points at the test, not at this line
    if delegate not in IN_PROCESS_DELEGATES:
        pytest.skip(
            f"delegate {delegate!r} is not timed in the pytest process (only "
            f"{', '.join(IN_PROCESS_DELEGATES)}: other delegates load native libraries that "
            "could take pytest down); time it with the farm's runner (--farm-devices, farm run)"
        )
    runner = _runner()
    argv = ["--model", os.fspath(model_path), "--out", os.devnull, "--delegate", delegate]
    argv += ["--threads", str(threads), "--seed", str(seed)]
    args = runner.parse_args(argv)
    try:
        name, version, rt = runner.load_runtime(RUNTIME)
        interpreter = runner.make_interpreter(rt, args)
        runner.set_inputs(interpreter, runner.make_inputs(interpreter, args.seed, None))
    except runner.CellOutcome as outcome:
        _end_test(outcome, f"{os.path.basename(model_path)} with {delegate}")
    return InProcessInterpreter(interpreter, name, version, runner.delegation_coverage(interpreter))


def _runner() -> Any:
    # By name, not `import`: the runner is written for Python 3.8 boards without annotations and
    # mypy leaves it out (pyproject); an import statement would make mypy check it from here.
    return importlib.import_module(RUNNER_MODULE)


def _end_test(outcome: Any, what: str) -> NoReturn:
    """The runner's verdict as the test's: skipped skips, anything else fails, no traceback."""
    __tracebackhide__ = True
    if outcome.status == "skipped":
        pytest.skip(f"{what}: {outcome.reason}")
    pytest.fail(f"{what} failed ({outcome.kind}): {outcome.reason}", pytrace=False)


class InterpreterFactory:
    """The ``farm_interpreter`` fixture: ``farm_interpreter(model, delegate="xnnpack",
    threads=1, seed=0)`` returns a ready-to-invoke interpreter. ``model`` is a name from the
    models manifest or folder (read once, on first use, sha256 checked) or a .tflite path."""

    def __init__(self, models: Path) -> None:
        self.models = models
        self._paths: dict[str, str] | None = None

    def __call__(
        self,
        model: str | os.PathLike[str],
        delegate: str = "xnnpack",
        threads: int = 1,
        seed: int = 0,
    ) -> Interpreter:
        __tracebackhide__ = True
        return open_interpreter(self.model_path(model), delegate, threads, seed).interpreter

    def model_path(self, model: str | os.PathLike[str]) -> str:
        if isinstance(model, os.PathLike) or model.endswith(".tflite"):
            return os.fspath(model)
        paths = self._catalog()
        if model not in paths:
            known = ", ".join(sorted(paths)) or "none"
            message = f"farm_interpreter: no model {model!r} in {self.models} (it has {known})"
            pytest.fail(message, pytrace=False)
        return paths[model]

    def _catalog(self) -> dict[str, str]:
        if self._paths is None:
            from farm.config import load_models
            from farm.errors import ConfigError

            try:
                self._paths = {model.name: model.path for model in load_models(self.models)}
            except ConfigError as exc:
                pytest.fail(f"farm_interpreter: {exc}", pytrace=False)
        return self._paths


def why_not_in_process(cell: Cell) -> str | None:
    """Why this cell cannot be timed in the pytest process, or None when it can."""
    device = cell.device
    if device.transport != "local":
        return f"{device.name} is not this host (transport {device.transport})"
    if cell.delegate not in IN_PROCESS_DELEGATES:
        return f"delegate {cell.delegate} needs its own process"
    if device.runner != "python":
        return f"{device.name} runs cells with {device.runner}"
    # Device keys that shape the runner's process (taskset, its flags): an interpreter
    # inside pytest cannot honour them, so such cells stay with the farm's runner.
    process = {"cpu_mask": device.options.cpu_mask, "runner_flags": device.options.runner_flags}
    shaping = [key for key, value in process.items() if value]
    return f"{device.name} sets {', '.join(shaping)} for the runner's process" if shaping else None
