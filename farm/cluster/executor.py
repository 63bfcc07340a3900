"""`farm run --executor ray`: every cell a Ray task on the lab host that advertises its device.

Ray's scheduler does across every driver what the local executor's per-device threads do
within one run: a cell needs its device's unit (``resources.cell_resources``), so cells of one
device never overlap. The task runs the local executor's own code for one cell
(``run_one_cell``: on-device lock, telemetry, probe, measure), on models and inputs the driver
ships through Ray's object store. Rows come back to the driver, which journals them, checks
parity and writes results like a local run.

Failures: an ``infra`` attempt with attempts left raises ``InfraFailure``, which Ray retries
(``retry_exceptions``, at most ``settings.retries`` times; a dead worker or node is retried
by Ray too); model, delegate and parity failures are rows, never retried. Every wait has a
deadline: a cell no alive node can take (its device's unit or the host-CPU unit advertised
nowhere) fails at once, naming what is missing and the `farm lab join` that provides it; a
device whose host left fails its cells after ``GONE_GRACE_S``, and a device with no finished
cell for longer than its cells may take fails the rest as ``infra`` instead of hanging.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import platform
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import RayError, RayTaskError

from farm.cluster.ray_cluster import connected, lab_health
from farm.cluster.resources import cell_resources, unmet, unplaceable
from farm.hashing import file_sha256
from farm.orchestrator.execute import (
    Recorder,
    ResultCallback,
    finish_recording,
    start_recording,
)
from farm.orchestrator.one_cell import CellReport, run_one_cell
from farm.orchestrator.parity_check import write_inputs
from farm.orchestrator.plan import RunPlan, utc_now
from farm.orchestrator.results import failed_result
from farm.orchestrator.retry import retry_pause_s, total_backoff_s
from farm.spec import Cell, CellResult

LOG = logging.getLogger("farm")
POLL_S = 0.5
GONE_GRACE_S = 10.0  # a host restarting its raylet is back within this
SLACK_S = 60.0
STALL_SLACK_S = 5.0


class InfraFailure(Exception):
    """An infra-failed attempt with attempts left: Ray retries the task on its device."""

    def __init__(self, report: CellReport) -> None:
        super().__init__(report)
        self.report = report

    def __str__(self) -> str:
        return self.report.result.reason or "infra failure"


Shipped = tuple[str, Any]  # a file's sha256, and its bytes in the object store


@dataclass(frozen=True)
class Shipment:
    """The run's models and input files in the object store, by model sha256. A family's
    variants share one inputs file: it is put once."""

    models: dict[str, Shipped]
    inputs: dict[str, Shipped]

    @classmethod
    def of(cls, plan: RunPlan, inputs: dict[str, Path]) -> Shipment:
        models = {cell.model.sha256: cell.model.path for cell in plan.cells}
        files = {
            path: (file_sha256(path), ray.put(path.read_bytes())) for path in set(inputs.values())
        }
        return cls(
            {sha: (sha, ray.put(Path(path).read_bytes())) for sha, path in models.items()},
            {sha: files[path] for sha, path in inputs.items()},
        )

    def unpack(self, cell: Cell) -> tuple[Cell, dict[str, Path]]:
        """The cell with its model at a path on this lab host, and its inputs file if any."""
        sha = cell.model.sha256
        model = dataclasses.replace(cell.model, path=str(_on_disk(*self.models[sha], ".tflite")))
        inputs = {sha: _on_disk(*self.inputs[sha], ".npz")} if sha in self.inputs else {}
        return dataclasses.replace(cell, model=model), inputs


def _on_disk(sha256: str, ref: Any, suffix: str) -> Path:
    """A shipped file in this host's cache, named by its content: fetched from the object
    store only when not there yet, and written atomically."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = cache / "tflite-farm" / "shipped" / f"{sha256}{suffix}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.part")
        partial.write_bytes(ray.get(ref))
        partial.replace(path)
    return path


@ray.remote
def cell_task(plan: RunPlan, cell: Cell, index: int, shipment: Shipment, health: Any) -> CellReport:
    """One attempt at one cell, on the host whose device it is."""
    attempt, quarantine = ray.get(health.begin.remote(plan.run_id, cell.cell_id, cell.device.name))
    if quarantine:
        row = failed_result(plan.run_id, cell, "infra", quarantine, utc_now(), None)
        return CellReport(dataclasses.replace(row, attempt=attempt), None, {})
    local_cell, inputs = shipment.unpack(cell)
    report = run_one_cell(plan, local_cell, index, inputs)
    result = dataclasses.replace(report.result, attempt=attempt)
    report = dataclasses.replace(report, result=result)
    settings = plan.settings
    pause_s = retry_pause_s(settings, result.failure_kind, attempt)
    if pause_s is not None:
        ray.get(health.retried.remote(plan.run_id, cell.cell_id, result))  # for the journal
        time.sleep(pause_s)  # still holding the device
        raise InfraFailure(report)
    limit = settings.quarantine_after
    health.observe.remote(cell.device.name, result.failure_kind, result.reason or "", limit)
    return report


def execute_on_ray(
    plan: RunPlan,
    on_result: ResultCallback | None = None,
    stop: threading.Event | None = None,
) -> Recorder:
    """Run the plan on the cluster; returns the recorder, as the local ``execute`` does."""
    recorder = start_recording(plan, on_result)
    inputs = write_inputs(plan)
    recorder.executor = {"kind": "ray", "address": plan.address, "ray_version": ray.__version__}
    recorder.executor.update(driver_host=platform.node(), lab_hosts={})
    with connected(plan.address):
        driver = Driver(plan, recorder, lab_health())
        try:
            driver.submit(Shipment.of(plan, inputs))
            driver.collect(stop or threading.Event())
        finally:
            driver.health.forget.remote(plan.run_id)
    finish_recording(plan, recorder)
    return recorder


class Driver:
    """Submits a run's cells and turns whatever becomes of each task into one row."""

    def __init__(self, plan: RunPlan, recorder: Recorder, health: Any) -> None:
        self.plan, self.recorder, self.health = plan, recorder, health
        self.pending: dict[Any, Cell] = {}  # task ref -> its cell
        self.progress: dict[str, float] = {}  # device -> when its last row (or first task) came
        self.missing: dict[str, float] = {}  # device -> since when no host advertises it
        s = plan.settings
        longest_cell_s = (s.retries + 1) * s.timeout_s + total_backoff_s(s)  # every attempt
        self.idle_deadline_s = longest_cell_s + s.lock_timeout_s + SLACK_S
        self.stall_after_s = longest_cell_s + STALL_SLACK_S  # then say so, once per device
        self.stalled: set[str] = set()

    def submit(self, shipment: Shipment) -> None:
        """A task per cell that some node can take; a cell no node can take (its device's
        unit, or the host-CPU unit, advertised nowhere) fails at once instead of waiting."""
        nodes = alive_nodes()
        address = self.plan.address
        if address in (None, "auto"):  # the head's own HOST:PORT, which a join needs
            address = ray.get_runtime_context().gcs_address
        bare = dataclasses.replace(self.plan, cells=(), skips=(), done=(), models=())
        plan_ref = ray.put(bare)
        for index, cell in enumerate(self.plan.cells):
            name = cell.device.name
            missing = unmet(cell_resources(cell.device), nodes)
            if missing:
                self._fail(cell, unplaceable(name, missing, address))
                continue
            task = cell_task.options(
                num_cpus=0,
                resources=cell_resources(cell.device),
                max_retries=self.plan.settings.retries,
                retry_exceptions=[InfraFailure],
                name=cell.cell_id,
            )
            self.pending[task.remote(plan_ref, cell, index, shipment, self.health)] = cell
            self.progress.setdefault(name, time.monotonic())

    def collect(self, stop: threading.Event) -> None:
        """Rows as tasks end; Ctrl-C (or ``stop``) cancels what has not ended: those cells get
        no row, so `farm run --resume` runs them again."""
        try:
            while self.pending and not stop.is_set():
                refs = list(self.pending)
                ready, _ = ray.wait(refs, num_returns=len(refs), timeout=POLL_S)
                for ref in ready:
                    self._receive(ref)
                self._expire(time.monotonic())
        except KeyboardInterrupt:
            self.recorder.interrupted = True
        finally:  # also when the run folder's disk is full: nothing more could be kept
            for ref in self.pending:
                ray.cancel(ref)

    def _receive(self, ref: Any) -> None:
        cell = self.pending.pop(ref)
        self.progress[cell.device.name] = time.monotonic()
        self.stalled.discard(cell.device.name)
        try:
            report: CellReport = ray.get(ref)
        except InfraFailure as exc:  # raised on what Ray counted as the last attempt
            report = exc.report
        except RayError as exc:  # the worker or its node died, beyond Ray's retries
            self._fail(cell, f"ray: {_why(exc)}")
            return
        report.write_files(self.plan.run_dir)
        if report.fingerprint is not None:
            self.recorder.fingerprints[cell.device.name] = report.fingerprint
        self.recorder.executor["lab_hosts"][cell.device.name] = report.lab_host
        self._record(cell, report.result)

    def _expire(self, now: float) -> None:
        """Fail the cells of devices whose host left, or that made no progress in time."""
        nodes = alive_nodes()
        devices = {cell.device.name: cell.device for cell in self.pending.values()}
        for name, device in sorted(devices.items()):
            since: float | None = None
            if unmet(cell_resources(device), nodes):
                since = self.missing.setdefault(name, now)
            else:
                self.missing.pop(name, None)
            if since is not None and now - since > GONE_GRACE_S:
                self._fail_device(name, f"no host advertises device {name} any more")
            elif now - self.progress[name] > self.idle_deadline_s:
                waited = now - self.progress[name]
                self._fail_device(name, f"no cell of device {name} ended in {waited:.0f} s")
            elif now - self.progress[name] > self.stall_after_s and name not in self.stalled:
                self.stalled.add(name)
                LOG.warning(
                    "%s: no cell ended in %.0f s, longer than one cell may take (another run "
                    "holds the device, or its host is busy); its cells fail at %.0f s",
                    name,
                    now - self.progress[name],
                    self.idle_deadline_s,
                )

    def _fail_device(self, name: str, reason: str) -> None:
        for ref, cell in list(self.pending.items()):
            if cell.device.name == name:
                ray.cancel(ref, force=True)  # a wedged worker; a queued task just goes
                del self.pending[ref]
                self._fail(cell, reason)

    def _fail(self, cell: Cell, reason: str) -> None:
        self._record(cell, failed_result(self.plan.run_id, cell, "infra", reason, utc_now(), None))

    def _record(self, cell: Cell, final: CellResult) -> None:
        """Journal the cell's retried attempts, as a local run does, then its final row."""
        for row in ray.get(self.health.take_retried.remote(self.plan.run_id, cell.cell_id)):
            self.recorder.record(row)
        self.recorder.record(final)


def alive_nodes() -> list[dict[str, float]]:
    """The total resources of each alive node of the cluster."""
    return [dict(node.get("Resources", {})) for node in ray.nodes() if node.get("Alive")]


def _why(exc: RayError) -> str:
    """One line: a task's own exception is the last line of its traceback, Ray's the first."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()] or [repr(exc)]
    return (lines[-1] if isinstance(exc, RayTaskError) else lines[0]).strip()
