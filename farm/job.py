"""The main job, start to end: load the lab and models, plan the cells, run them, write the
results, run.json and the dashboard. Shared by the CLI and the pytest plugin."""

from __future__ import annotations

import random
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from farm.config import load_devices, load_models
from farm.dashboard import write_dashboard
from farm.errors import RunnerError, TargetError
from farm.matrix import Order, expand, order_cells
from farm.orchestrator import (
    ResultCallback,
    RunPlan,
    execute,
    inspect_models,
    new_run_id,
    provenance,
    utc_now,
)
from farm.orchestrator.measure import CellMeasurer
from farm.orchestrator.probe import DeviceProbe, probe_device
from farm.spec import CellResult, Device, RunSettings
from farm.store import load_results, load_run_info, write_results, write_run_info
from farm.targets import connect

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
    run_dir: Path | None = None
    dry_run: bool = False


@dataclass
class JobOutcome:
    """What a finished (or interrupted) run left behind."""

    plan: RunPlan
    results: list[CellResult]
    interrupted: bool
    dashboard: Path | None = None
    files: list[Path] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        failed = any(r.status == "failed" for r in self.results)
        return EXIT_CELL_FAILED if failed else EXIT_OK


def plan_run(request: RunRequest) -> RunPlan:
    """Validate the inputs (ConfigError on anything wrong) and decide every cell."""
    devices = load_devices(request.devices)
    models = inspect_models(load_models(request.models))
    seed = request.seed if request.seed is not None else random.SystemRandom().randrange(2**31)
    cells, skips = expand(devices, models, request.delegates, request.threads)
    run_id = new_run_id()
    settings = RunSettings(
        request.runs, request.warmup, request.min_seconds, seed, request.timeout_s
    )
    run_dir = request.run_dir or REPORTS / "runs" / run_id
    return RunPlan(
        run_id, run_dir, tuple(order_cells(cells, seed, request.order)), tuple(skips), settings
    )


def run_plan(
    plan: RunPlan, on_result: ResultCallback | None = None, stop: threading.Event | None = None
) -> JobOutcome:
    """Run every cell, then write results.parquet, run.json and the dashboard."""
    started = utc_now()
    recorder = execute(plan, on_result, stop)
    outcome = JobOutcome(plan, recorder.results, recorder.interrupted)
    outcome.files.append(write_results(plan.run_dir, recorder.results))
    info = provenance(plan, recorder.results, recorder.fingerprints, started)
    outcome.files.append(write_run_info(plan.run_dir, info))
    outcome.dashboard = write_report(plan.run_dir)
    return outcome


def write_report(run_dir: Path, out: Path | None = None) -> Path:
    """The run's dashboard; a run under reports/runs/ also updates reports/latest.html."""
    path = write_dashboard(
        load_results(run_dir), load_run_info(run_dir), out or run_dir / "dashboard.html"
    )
    if out is None and run_dir.resolve().parent.name == "runs":
        shutil.copyfile(path, run_dir.resolve().parent.parent / "latest.html")
    return path


def probe_lab(devices_path: Path) -> list[tuple[Device, DeviceProbe | None, str | None]]:
    """Connect to every device and ask what it really has: (device, probe, or why not)."""
    answers: list[tuple[Device, DeviceProbe | None, str | None]] = []
    for device in load_devices(devices_path):
        try:
            target = connect(device)
        except TargetError as exc:
            answers.append((device, None, str(exc)))
            continue
        try:
            measurer = CellMeasurer(target, "probe", Path(tempfile.mkdtemp()), RunSettings())
            answers.append((device, probe_device(target, device, measurer), None))
        except (TargetError, RunnerError) as exc:
            answers.append((device, None, str(exc)))
        finally:
            target.close()
    return answers
