"""The main job, start to end: load the lab and models, plan the cells, run them, write the
results, run.json and the dashboard. Shared by the CLI and the pytest plugin."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import random
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from farm.cluster.address import check_reachable, ray_missing, unreachable
from farm.compare import Comparison, compare_runs, from_json, to_json, to_markdown
from farm.config import load_devices, load_models
from farm.dashboard import HISTORY_COLUMNS, PageProgress, copy_dashboard, write_dashboard
from farm.errors import (
    EXIT_NOTHING_CHECKED,
    ConfigError,
    RunDirFull,
    disk_full,
)
from farm.matrix import Order, expand, order_cells
from farm.orchestrator import (
    Executor,
    Recorder,
    ResultCallback,
    RunPlan,
    execute,
    inspect_models,
    new_run_id,
    provenance,
    utc_now,
)
from farm.run_options import check_run_options
from farm.spec import CellResult, RunSettings
from farm.store import (
    JOURNAL,
    last_good_run,
    load_history,
    load_results,
    load_run_info,
    read_journal,
    write_results,
    write_run_info,
)

REPORTS = Path("reports")
EXIT_OK, EXIT_CELL_FAILED, EXIT_INTERRUPTED = 0, 1, 130


@dataclass(frozen=True)
class RunRequest:
    """What the user asked `farm run` for."""

    devices: Path
    models: Path
    delegates: list[str] | None = None
    threads: list[int] | None = None
    runs: int = 50
    warmup: int = 5
    min_seconds: float = 0.0
    seed: int | None = None
    order: Order = "shuffled"
    timeout_s: float = 300.0
    retries: int = 1  # extra attempts of a cell that failed for infra reasons
    lock_timeout_s: float = 600.0  # how long to wait for a device another run holds
    repeats: int = 1  # runner processes per cell, samples pooled
    offline: bool = False  # download no prebuilt benchmark_model (FARM_OFFLINE=1 does too)
    run_dir: Path | None = None
    dry_run: bool = False
    resume: Path | None = None  # a run directory: redo only its cells without a row
    executor: Executor = "local"
    address: str | None = None  # the Ray head (HOST:PORT) for executor "ray"


PLAN_FILE = "plan.json"
_REPLAYED = (
    "devices",
    "models",
    "delegates",
    "threads",
    "runs",
    "warmup",
    "min_seconds",
    "seed",
    "order",
    "timeout_s",
    "retries",
    "lock_timeout_s",
    "repeats",
    "offline",
)


@dataclass
class JobOutcome:
    """What a finished (or interrupted) run left behind."""

    plan: RunPlan
    results: list[CellResult]
    interrupted: bool
    dashboard: Path | None = None
    files: list[Path] = field(default_factory=list)
    execute_s: float = 0.0  # running the cells (orchestration included)
    report_s: float = 0.0  # writing results.parquet, run.json and the dashboard

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        if any(r.status == "failed" for r in self.results):
            return EXIT_CELL_FAILED
        return EXIT_OK if self.measured else EXIT_NOTHING_CHECKED

    @property
    def measured(self) -> bool:
        """Whether any cell was measured: a run whose every cell was skipped checked nothing."""
        return any(r.status == "ok" for r in self.results)


def plan_run(request: RunRequest) -> RunPlan:
    """Validate the inputs (ConfigError on anything wrong) and decide every cell."""
    _check_options(request)
    if request.executor == "ray":
        _check_ray(request.address)
    if request.resume is not None:
        plan = _resumed_plan(request.resume)
        return dataclasses.replace(plan, executor=request.executor, address=request.address)
    devices = load_devices(request.devices)
    models = inspect_models(load_models(request.models))
    seed = request.seed if request.seed is not None else random.SystemRandom().randrange(2**31)
    cells, skips = expand(devices, models, request.delegates, request.threads)
    run_id = new_run_id()
    settings = RunSettings(
        request.runs,
        request.warmup,
        request.min_seconds,
        seed,
        request.timeout_s,
        retries=request.retries,
        lock_timeout_s=request.lock_timeout_s,
        repeats=request.repeats,
        offline=request.offline,
    )
    run_dir = request.run_dir or REPORTS / "runs" / run_id
    ordered = tuple(order_cells(cells, seed, request.order))
    replay = _replay(request, run_id, seed)
    return RunPlan(
        run_id,
        run_dir,
        ordered,
        tuple(skips),
        settings,
        request=replay,
        executor=request.executor,
        address=request.address,
        models=models,
    )


def _check_options(request: RunRequest) -> None:
    check_run_options(
        delegates=request.delegates,
        threads=request.threads,
        timeout_s=request.timeout_s,
        lock_timeout_s=request.lock_timeout_s,
        min_seconds=request.min_seconds,
        seed=request.seed,
        run_dir=request.run_dir,
    )


def _check_ray(address: str | None) -> None:
    """Ray installed and its head answering, before the run folder is made."""
    try:
        installed = importlib.util.find_spec("ray") is not None
    except ValueError:  # set to None in sys.modules: blocked on purpose
        installed = False
    if not installed:
        raise ray_missing("--executor")
    try:
        check_reachable(address)
    except (OSError, ValueError) as exc:
        raise unreachable(address, exc) from exc


def _resumed_plan(run_dir: Path) -> RunPlan:
    """The same plan again (same run id, seed, order), less the cells the journal holds."""
    try:
        saved = json.loads((run_dir / PLAN_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(
            str(run_dir / PLAN_FILE),
            "",
            "cannot read the run's plan",
            "pass a run directory written by farm run",
        ) from exc
    values = {key: saved[key] for key in _REPLAYED if key in saved}  # older runs lack some
    values.update(devices=Path(values["devices"]), models=Path(values["models"]), run_dir=run_dir)
    plan = plan_run(RunRequest(**values))
    done = read_journal(run_dir / JOURNAL)
    keys = {row.key for row in done}
    return dataclasses.replace(
        plan,
        run_id=saved["run_id"],
        done=tuple(done),
        cells=tuple(c for c in plan.cells if c.key not in keys),
        skips=tuple(s for s in plan.skips if s.cell.key not in keys),
    )


def _replay(request: RunRequest, run_id: str, seed: int) -> dict[str, Any]:
    """What `farm run --resume` needs to plan the same cells again (saved as plan.json)."""
    values = {key: getattr(request, key) for key in _REPLAYED}
    values.update(
        devices=str(request.devices.resolve()),
        models=str(request.models.resolve()),
        seed=seed,
        run_id=run_id,
    )
    return values


def run_plan(
    plan: RunPlan,
    on_result: ResultCallback | None = None,
    stop: threading.Event | None = None,
    *,
    report: bool = True,
) -> JobOutcome:
    """Run every cell, then write results.parquet, run.json and (``report``) the dashboard. A
    full disk under the run folder stops the run (RunDirFull): the journal keeps what finished."""
    start = time.perf_counter()
    with stops_on_a_full_disk(plan):
        outcome = _run_and_write(plan, on_result, stop)
        if report:
            outcome.dashboard = write_report(plan.run_dir)
        outcome.report_s = time.perf_counter() - start - outcome.execute_s
        return outcome


@contextlib.contextmanager
def stops_on_a_full_disk(plan: RunPlan) -> Iterator[None]:
    """A full disk under the run folder, while this writes there, as RunDirFull."""
    try:
        yield
    except OSError as exc:
        if not disk_full(exc):
            raise
        path = str(exc.filename) if exc.filename else None
        raise RunDirFull(path, str(plan.run_dir), _free_mb(plan)) from exc


def _free_mb(plan: RunPlan) -> float | None:
    try:
        return shutil.disk_usage(plan.run_dir).free / 2**20
    except OSError:
        return None


def _run_and_write(
    plan: RunPlan, on_result: ResultCallback | None, stop: threading.Event | None
) -> JobOutcome:
    started = utc_now()
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    if not (plan.run_dir / PLAN_FILE).exists():
        (plan.run_dir / PLAN_FILE).write_text(json.dumps(plan.request, indent=2) + "\n")
    start = time.perf_counter()
    recorder = _execute(plan, on_result, stop)
    outcome = JobOutcome(plan, recorder.results, recorder.interrupted)
    outcome.execute_s = time.perf_counter() - start
    outcome.files.append(write_results(plan.run_dir, recorder.results))
    info = provenance(plan, recorder.results, recorder.fingerprints, started, recorder.executor)
    outcome.files.append(write_run_info(plan.run_dir, info))
    return outcome


def _execute(
    plan: RunPlan, on_result: ResultCallback | None, stop: threading.Event | None
) -> Recorder:
    if plan.executor == "ray":
        from farm.cluster.executor import execute_on_ray  # the optional extra, only when asked

        return execute_on_ray(plan, on_result, stop)
    return execute(plan, on_result, stop)


def write_report(
    run_dir: Path, out: Path | None = None, progress: PageProgress | None = None
) -> Path:
    """The run's dashboard. A run under reports/runs/ also gets the history of the runs up to
    and including it (trends) and its comparison with the last good run before it (the
    compare.json a nightly wrote, else compared here), and updates reports/latest.html."""
    results, run = load_results(run_dir), load_run_info(run_dir)
    path = out or run_dir / "dashboard.html"
    if run_dir.resolve().parent.name != "runs":
        return write_dashboard(results, run, path, progress=progress)
    reports = run_dir.resolve().parent.parent
    this_run = str(run.get("run_id", run_dir.name))  # run ids sort by start time
    history = load_history(reports, up_to=this_run, columns=HISTORY_COLUMNS)
    baseline = last_good_run(reports, before=run_dir.name)  # the one a nightly compares with
    comparison: Comparison | None = None
    if (run_dir / "compare.json").exists():
        comparison = from_json((run_dir / "compare.json").read_text())
    elif baseline is not None:
        comparison = compare_runs(load_results(baseline), results)
    name = baseline.name if baseline is not None else None
    path = write_dashboard(
        results, run, path, history=history, comparison=comparison, baseline=name,
        progress=progress,
    )  # fmt: skip
    if out is None:
        copy_dashboard(path, reports / "latest.html")
    return path


@dataclass
class NightlyOutcome:
    """A nightly run and its comparison with the last good run (None: no baseline yet)."""

    run: JobOutcome
    baseline: Path | None
    comparison: Comparison | None

    @property
    def exit_code(self) -> int:
        if self.run.interrupted:
            return EXIT_INTERRUPTED
        compared = 0 if self.comparison is None else self.comparison.exit_code
        # A run whose cells all failed compares nothing; its own failure is the news.
        if compared == EXIT_NOTHING_CHECKED and self.run.exit_code != 0:
            return self.run.exit_code
        return compared or self.run.exit_code


def run_nightly(
    plan: RunPlan, threshold: float, on_result: ResultCallback | None = None
) -> NightlyOutcome:
    """Run, then compare with the last good run under the same reports folder; the
    comparison is written next to the results (compare.json, compare.md)."""
    reports = plan.run_dir.resolve().parent.parent
    baseline = last_good_run(reports, before=plan.run_dir.name)
    outcome = run_plan(plan, on_result, report=False)
    comparison = None
    with stops_on_a_full_disk(plan):
        if baseline is not None:
            comparison = compare_runs(load_results(baseline), load_results(plan.run_dir), threshold)
            (plan.run_dir / "compare.json").write_text(to_json(comparison))
            (plan.run_dir / "compare.md").write_text(to_markdown(comparison))
        outcome.dashboard = write_report(plan.run_dir)  # once, showing this comparison
    return NightlyOutcome(outcome, baseline, comparison)
