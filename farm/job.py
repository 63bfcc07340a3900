"""The main job, start to end, once it is planned (farm.orchestrator.plan): run the cells, write
the results, run.json and the dashboard; the nightly's comparison. Shared by the CLI and the
pytest plugin."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from farm.cluster.address import check_reachable, ray_missing, unreachable
from farm.compare import Comparison, compare_runs, from_json, to_json, to_markdown
from farm.dashboard import HISTORY_COLUMNS, PageProgress, copy_dashboard, write_dashboard
from farm.errors import (
    EXIT_CELL_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOTHING_CHECKED,
    EXIT_OK,
    RunDirFull,
    disk_full,
)
from farm.orchestrator import (
    PLAN_FILE,
    Recorder,
    ResultCallback,
    RunPlan,
    RunRequest,
    execute,
    provenance,
    utc_now,
)
from farm.spec import CellResult
from farm.store import (
    last_good_run,
    load_history,
    load_results,
    load_run_info,
    write_results,
    write_run_info,
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


def check_executor(request: RunRequest) -> None:
    """The executor `farm run` asked for can take the run (Ray installed, its head up)."""
    if request.executor == "ray":
        _check_ray(request.address)


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


def run_plan(
    plan: RunPlan,
    on_result: ResultCallback | None = None,
    stop: threading.Event | None = None,
    *,
    report: bool = True,
    report_workers: int = 1,
) -> JobOutcome:
    """Run every cell, then write results.parquet, run.json and (``report``) the dashboard, a
    large one by ``report_workers`` processes (``write_report``). A full disk under the run
    folder stops the run (RunDirFull): the journal keeps what finished."""
    start = time.perf_counter()
    with stops_on_a_full_disk(plan):
        outcome = _run_and_write(plan, on_result, stop)
        if report:
            outcome.dashboard = write_report(plan.run_dir, workers=report_workers)
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
    run_dir: Path,
    out: Path | None = None,
    progress: PageProgress | None = None,
    workers: int = 1,
) -> Path:
    """The run's dashboard. A run under reports/runs/ also gets the history of the runs up to
    and including it (trends) and its comparison with the last good run before it (the
    compare.json a nightly wrote, else compared here), and updates reports/latest.html. The
    device pages of a large run are written by ``workers`` processes (``farm.workers``)."""
    results, run = load_results(run_dir), load_run_info(run_dir)
    path = out or run_dir / "dashboard.html"
    if run_dir.resolve().parent.name != "runs":
        return write_dashboard(results, run, path, progress=progress, workers=workers)
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
        progress=progress, workers=workers,
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
    plan: RunPlan,
    threshold: float,
    on_result: ResultCallback | None = None,
    report_workers: int = 1,
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
        # once, showing this comparison
        outcome.dashboard = write_report(plan.run_dir, workers=report_workers)
    return NightlyOutcome(outcome, baseline, comparison)
