"""The farm as a pytest plugin (entry point ``pytest11: farm``):

    pytest --farm-devices devices.yaml --farm-models models --junitxml farm.xml

Each cell of the matrix is a test item with id ``device-model-delegate-tN`` under the devices
file; the whole matrix runs once, with the farm's own orchestrator, when the first cell item (or a
``farm_result`` user) needs it. ``ok`` passes, ``failed`` fails with its failure kind and reason,
``skipped`` skips with its reason; a model's ``budget_ms`` in the manifest is asserted against the
cell's median. Fixtures ``farm_lab`` and ``farm_result`` let users write their own checks;
``--farm-benchmark-json`` exports the cells for ``pytest-benchmark compare``.

Without ``--farm-devices`` the plugin adds nothing. pytest loads it in every project where
tflite-farm is installed, so importing it must stay light: the farm itself (pandas, pyarrow,
LiteRT) is imported only once a run is asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from pathlib import Path
from typing import TypeVar

import pytest

from farm.pytest_plugin.budget import budget_for
from farm.pytest_plugin.items import CellItem, DevicesFile
from farm.pytest_plugin.session import FarmLab, FarmResults, FarmSession

__all__ = ["CellItem", "FarmLab", "FarmResults", "budget_for"]

_FARM = pytest.StashKey[FarmSession]()
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
    group.addoption("--farm-runs", metavar="N", type=int, default=50, help="timed invokes per cell")
    group.addoption("--farm-warmup", metavar="N", type=int, default=5, help="untimed invokes first")
    group.addoption(
        "--farm-benchmark-json",
        metavar="PATH",
        help="write ok cells in pytest-benchmark's JSON ({device} in PATH: a file per device)",
    )


def pytest_configure(config: pytest.Config) -> None:
    devices = config.getoption("farm_devices")
    if not devices:
        return
    from farm.job import RunRequest

    run_dir = config.getoption("farm_run_dir")
    config.stash[_FARM] = FarmSession(
        RunRequest(
            devices=Path(devices),
            models=Path(config.getoption("farm_models")),
            delegates=_csv(config, "farm_delegates", str),
            threads=_csv(config, "farm_threads", int),
            runs=_at_least_one(config, "farm_runs"),
            warmup=_at_least_one(config, "farm_warmup"),
            run_dir=Path(run_dir) if run_dir else None,
        )
    )


def _at_least_one(config: pytest.Config, name: str) -> int:
    value: int = config.getoption(name)
    if value < 1:
        option = "--" + name.replace("_", "-")
        raise pytest.UsageError(f"farm: {option}: must be at least 1, not {value}")
    return value


def _csv(config: pytest.Config, name: str, kind: Callable[[str], T]) -> list[T] | None:
    value = config.getoption(name)
    if not value:
        return None
    try:
        return [kind(part.strip()) for part in value.split(",") if part.strip()]
    except ValueError:
        option = "--" + name.replace("_", "-")
        raise pytest.UsageError(f"farm: {option}: cannot read {value!r} (e.g. 1,2,4)") from None


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselect, so they apply to cells too
def pytest_collection_modifyitems(session: pytest.Session, items: list[pytest.Item]) -> None:
    farm = session.config.stash.get(_FARM, None)
    if farm is None:
        return
    lab = DevicesFile.for_session(session, farm)
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
    if isinstance(item, CellItem) and report.skipped and isinstance(report.longrepr, tuple):
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


def _session(request: pytest.FixtureRequest) -> FarmSession:
    farm = request.config.stash.get(_FARM, None)
    if farm is None:
        pytest.skip("the farm fixtures need --farm-devices devices.yaml")
    return farm
