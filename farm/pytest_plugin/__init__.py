"""The farm as a pytest plugin (entry point ``pytest11: farm``):

    pytest --farm-devices devices.yaml --farm-models models --junitxml farm.xml

Each cell of the matrix is a test item with id ``device-model-delegate-tN`` under the devices
file; the whole matrix runs once, with the farm's own orchestrator, when the first cell item (or a
``farm_result`` user) needs it. ``ok`` passes, ``failed`` fails with its failure kind and reason,
``skipped`` skips with its reason; a model's ``budget_ms`` in the manifest is asserted against the
cell's median. Fixtures ``farm_lab`` and ``farm_result`` let users write their own checks;
``--farm-benchmark-json`` exports the cells for ``pytest-benchmark compare``.

This host's CPU can also be timed by pytest-benchmark itself, in the pytest process, with real
LiteRT built exactly as the farm's runner builds it (``cpu``: builtin kernels, no default
delegates; ``xnnpack``: the default; ``threads``: num_threads; the runner's seeded inputs):

- ``--farm-benchmark-local`` (needs pytest-benchmark): the ``cpu`` and ``xnnpack`` cells of
  ``transport: local`` devices become tests that request the ``benchmark`` fixture, timing
  ``--farm-runs`` rounds of one invoke after ``--farm-warmup``, named by their cell id, grouped
  by model; so ``--benchmark-json``, ``--benchmark-autosave``, ``--benchmark-only`` and
  ``pytest-benchmark compare`` work on them as on any benchmark. The farm's runner does not run
  them, so they leave no row in the farm's results (no parity check, no dashboard cell, and
  other devices' ``cpu`` cells lose the host reference they are compared with). A local cell
  only the runner can do (another delegate, a ``cpu_mask`` or ``runner_flags``, ``runner:
  benchmark_model``) stays an ordinary cell, as does every cell of other devices.
- the ``farm_interpreter`` fixture (no ``--farm-devices`` needed) for your own benchmarks:
  ``benchmark(farm_interpreter("kws_dscnn_int8", delegate="cpu", threads=1).invoke)``; models
  by name from ``--farm-models`` or by .tflite path; other delegates skip the test with why.

Without ``--farm-devices`` the plugin adds no items and runs nothing; its fixtures wait to be
asked for (``farm_lab`` and ``farm_result`` then skip). pytest loads it in every project where
tflite-farm is installed, so importing it must stay light: the farm itself (pandas, pyarrow,
LiteRT) is imported only once a run is asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import TypeVar

import pytest

from farm.errors import ConfigError
from farm.pytest_plugin.benchmark_item import BenchmarkCellItem
from farm.pytest_plugin.budget import budget_for
from farm.pytest_plugin.in_process import InterpreterFactory
from farm.pytest_plugin.items import CellItem, DevicesCollector
from farm.pytest_plugin.session import FarmLab, FarmResults, FarmSession
from farm.run_options import check_delegates, check_threads
from farm.spec import RunSettings

__all__ = [
    "BenchmarkCellItem",
    "CellItem",
    "FarmLab",
    "FarmResults",
    "InterpreterFactory",
    "budget_for",
]

_FARM = pytest.StashKey[FarmSession]()
DEFAULT = RunSettings()  # --farm-runs and --farm-warmup default to the run settings' own
T = TypeVar("T")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("farm", "tflite-farm: matrix cells as test items")
    group.addoption("--farm-devices", metavar="PATH", help="the lab (devices.yaml); turns it on")
    group.addoption(
        "--farm-models", metavar="PATH", default="models", help="models.yaml or a folder"
    )
    group.addoption(
        "--farm-delegates", metavar="LIST", help="e.g. cpu,xnnpack (default: each device's)"
    )
    group.addoption("--farm-threads", metavar="LIST", help="e.g. 1,2 (default: each device's)")
    group.addoption("--farm-run-dir", metavar="DIR", help="default: reports/runs/<run id>")
    group.addoption(
        "--farm-runs", metavar="N", type=int, default=DEFAULT.runs, help="timed invokes per cell"
    )
    group.addoption(
        "--farm-warmup", metavar="N", type=int, default=DEFAULT.warmup, help="untimed invokes first"
    )
    group.addoption(
        "--farm-benchmark-json",
        metavar="PATH",
        help="write ok cells in pytest-benchmark's JSON ({device} in PATH: a file per device)",
    )
    group.addoption(
        "--farm-benchmark-local",
        action="store_true",
        help="time this host's cpu/xnnpack cells in-process with pytest-benchmark's fixture",
    )


def pytest_configure(config: pytest.Config) -> None:
    devices = config.getoption("farm_devices")
    if not devices:
        return
    from farm.orchestrator import RunRequest

    benchmark_local = bool(config.getoption("farm_benchmark_local"))
    if benchmark_local and not config.pluginmanager.hasplugin("benchmark"):
        raise pytest.UsageError(
            "farm: --farm-benchmark-local times cells with pytest-benchmark's benchmark fixture, "
            "and pytest-benchmark is not loaded: pip install pytest-benchmark (or drop "
            "-p no:benchmark)"
        )
    run_dir = config.getoption("farm_run_dir")
    config.stash[_FARM] = FarmSession(
        RunRequest(
            Path(devices),
            Path(config.getoption("farm_models")),
            RunSettings(
                delegates=_csv(config, "farm_delegates", str, check_delegates),
                threads=_csv(config, "farm_threads", int, check_threads),
                runs=_at_least_one(config, "farm_runs"),
                warmup=_at_least_one(config, "farm_warmup"),
            ),
            run_dir=Path(run_dir) if run_dir else None,
        ),
        benchmark_local=benchmark_local,
    )


def _at_least_one(config: pytest.Config, name: str) -> int:
    value: int = config.getoption(name)
    if value < 1:
        option = "--" + name.replace("_", "-")
        raise pytest.UsageError(f"farm: {option}: must be at least 1, not {value}")
    return value


def _csv(
    config: pytest.Config,
    name: str,
    kind: Callable[[str], T],
    check: Callable[[Sequence[T] | None], None],
) -> list[T] | None:
    """A comma-separated option, read and checked as `farm run` checks its own."""
    from farm.config import split_csv  # pydantic and yaml: only once a run is asked for

    value = config.getoption(name)
    option = "--" + name.replace("_", "-")
    try:
        values = split_csv(value, kind)
    except ValueError:
        raise pytest.UsageError(f"farm: {option}: cannot read {value!r} (e.g. 1,2,4)") from None
    try:
        check(values)
    except ConfigError as exc:  # farm run's check, in this plugin's option name
        fix = f" ({exc.fix})" if exc.fix else ""
        raise pytest.UsageError(f"farm: {option}: {exc.problem}{fix}") from None
    return values


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselect, so they apply to cells too
def pytest_collection_modifyitems(session: pytest.Session, items: list[pytest.Item]) -> None:
    farm = session.config.stash.get(_FARM, None)
    if farm is None:
        return
    lab = DevicesCollector.for_session(session, farm)
    report = lab.ihook.pytest_make_collect_report(collector=lab)
    session.ihook.pytest_collectreport(report=report)
    for node in report.result:
        if isinstance(node, pytest.Item):
            session.ihook.pytest_itemcollected(item=node)
            items.append(node)


def pytest_collection_finish(session: pytest.Session) -> None:
    farm = session.config.stash.get(_FARM, None)
    if farm is not None:
        farm.selected = {item.name for item in session.items if isinstance(item, CellItem)}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A skipped cell points at its device in devices.yaml (``-rs``, JUnit), not at the line of
    this plugin that called ``pytest.skip``."""
    report = yield
    is_cell = isinstance(item, CellItem | BenchmarkCellItem)
    if is_cell and report.skipped and isinstance(report.longrepr, tuple):
        path, line, _ = item.location
        report.longrepr = (path, (line or 0) + 1, report.longrepr[2])
    return report


def pytest_report_collectionfinish(config: pytest.Config) -> list[str]:
    farm = config.stash.get(_FARM, None)
    if farm is None:
        return []
    plan = farm.plan
    return [
        f"farm: {len(plan.cells) + len(plan.skips)} cells ({len(plan.skips)} skipped at plan), "
        f"run {plan.run_id} in {plan.run_dir}"
    ]


def pytest_sessionfinish(session: pytest.Session) -> None:
    farm = session.config.stash.get(_FARM, None)
    path = session.config.getoption("farm_benchmark_json", None)
    if farm is None or farm.outcome is None or not path:
        return
    from farm.pytest_plugin.benchmark_json import write_benchmark_json

    outcome = farm.outcome
    written = write_benchmark_json(
        path, outcome.results, outcome.plan.settings, session.config.rootpath
    )
    outcome.files.extend(written)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    farm = terminalreporter.config.stash.get(_FARM, None)
    if farm is None or farm.outcome is None:
        return
    outcome = farm.outcome
    counts = {s: sum(r.status == s for r in outcome.results) for s in ("ok", "failed", "skipped")}
    terminalreporter.write_sep("-", "tflite-farm")
    summary = ", ".join(f"{n} {status}" for status, n in counts.items())
    terminalreporter.write_line(f"run {outcome.plan.run_id}: {summary}")
    for path in [*outcome.files, outcome.dashboard]:
        if path is not None:
            terminalreporter.write_line(f"wrote {path}")


@pytest.fixture(scope="session")
def farm_lab(request: pytest.FixtureRequest) -> FarmLab:
    """The lab this session runs: devices, models, the plan and every cell by id."""
    return _session(request).lab()


@pytest.fixture(scope="session")
def farm_result(request: pytest.FixtureRequest) -> FarmResults:
    """Every cell's CellResult by id (``farm_result["host-m-cpu-t1"]``), or call it with
    ``(device, model, delegate, threads=1)``; ``.frame`` is the results DataFrame. Using it runs
    the matrix if no cell item has yet."""
    return FarmResults(_session(request).run())


@pytest.fixture(scope="session")
def farm_interpreter(request: pytest.FixtureRequest) -> InterpreterFactory:
    """``farm_interpreter(model, delegate="xnnpack", threads=1, seed=0)``: a LiteRT interpreter
    built as the farm's runner builds it, inputs set, for ``benchmark(interpreter.invoke)``.
    ``model`` is a name from ``--farm-models`` (default ``models``) or a path to a .tflite;
    delegates other than cpu and xnnpack skip the test. Works without ``--farm-devices``."""
    models = request.config.invocation_params.dir / request.config.getoption("farm_models")
    return InterpreterFactory(models)


def _session(request: pytest.FixtureRequest) -> FarmSession:
    farm = request.config.stash.get(_FARM, None)
    if farm is None:
        pytest.skip("the farm fixtures need --farm-devices devices.yaml")
    return farm
