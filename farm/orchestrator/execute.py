"""Run the cells of a plan: one worker per device, one cell at a time on a device, all
devices in parallel. Every finished cell is journaled (fsync) before the device's next one."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import platform
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from farm.errors import RunnerError, TargetError, TargetTimeout, disk_full
from farm.orchestrator.facts import DeviceFacts, FactsCache
from farm.orchestrator.interrupt import wait_or_stop
from farm.orchestrator.measure import CellMeasurer
from farm.orchestrator.parity_check import check_parity, write_inputs
from farm.orchestrator.plan import RunPlan, utc_now
from farm.orchestrator.probe import preflight_problem, probe_device, runner_probe_needed
from farm.orchestrator.results import failed_result, outcome_result, skipped_result
from farm.orchestrator.retry import FailureStreak, retry_pause_s
from farm.runners.benchmark_model.prebuilt import source_of
from farm.spec import Cell, CellResult, Device, FailureKind, Skip
from farm.store import JOURNAL, Journal
from farm.targets import Target, connect
from farm.targets.lock import DeviceLock, WaitInterrupted

ResultCallback = Callable[[CellResult], None]
PREFLIGHT_MARGIN_MB = 16.0  # the runner, inputs and outputs, beside the models
Connect = Callable[[Device], Target]


class Recorder:
    """Journals each result (thread-safe) and tells the caller, in the order they finish."""

    def __init__(self, run_dir: Path, on_result: ResultCallback | None) -> None:
        self.journal = Journal(run_dir / JOURNAL)
        self.results: list[CellResult] = []
        self.fingerprints: dict[str, dict[str, Any]] = {}
        # How the cells ran, for run.json; a remote executor adds which host drove each device.
        self.executor: dict[str, Any] = {"kind": "local", "host": platform.node()}
        self.interrupted = False
        self._on_result = on_result
        self._lock = threading.Lock()

    def record(self, result: CellResult) -> None:
        """Journal a row; a later attempt of the same cell replaces the earlier one."""
        with self._lock:
            self.journal.append(result)
            self.results = [r for r in self.results if r.key != result.key]
            self.results.append(result)
            if self._on_result:
                self._on_result(result)

    def update(self, result: CellResult) -> None:
        """A finished cell learned more (parity): journal it again; the last line wins."""
        with self._lock:
            self.journal.append(result)
            self.results = [result if r.key == result.key else r for r in self.results]


def execute(
    plan: RunPlan,
    on_result: ResultCallback | None = None,
    stop: threading.Event | None = None,
    open_target: Connect = connect,
) -> Recorder:
    """Run the plan; returns the recorder holding every result and device fingerprint."""
    recorder = start_recording(plan, on_result)
    stop = stop or threading.Event()
    by_device: dict[str, list[Cell]] = {}
    for cell in plan.cells:
        by_device.setdefault(cell.device.name, []).append(cell)
    inputs = write_inputs(plan)
    with ThreadPoolExecutor(max_workers=max(len(by_device), 1)) as pool:
        host_cpu = threading.Lock()  # one cell at a time among devices that load this host
        workers = [
            DeviceWorker(plan, recorder, stop, open_target, inputs, host_cpu) for _ in by_device
        ]
        jobs = [
            pool.submit(w.run, cells) for w, cells in zip(workers, by_device.values(), strict=True)
        ]
        recorder.interrupted = wait_or_stop(jobs, stop, workers, plan.settings)
    finish_recording(plan, recorder)
    return recorder


def start_recording(plan: RunPlan, on_result: ResultCallback | None) -> Recorder:
    """The run's recorder, holding the rows a resumed run already has and the skipped cells."""
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    recorder = Recorder(plan.run_dir, on_result)
    recorder.results.extend(plan.done)
    for skip in plan.skips:
        recorder.record(skipped_result(plan.run_id, skip))
    return recorder


def finish_recording(plan: RunPlan, recorder: Recorder) -> None:
    """Once every cell has a row: parity against each reference, journaled; journal closed."""
    hosts = {cell.device.name for cell in plan.cells if cell.device.transport == "local"}
    for row in check_parity(plan, recorder.results, hosts):
        recorder.update(row)
    recorder.journal.close()


class DeviceWorker:
    """Runs one device's cells, one at a time, over one open target."""

    def __init__(
        self,
        plan: RunPlan,
        recorder: Recorder,
        stop: threading.Event,
        open_target: Connect,
        inputs: dict[str, Path] | None = None,
        host_cpu: threading.Lock | None = None,
        known: FactsCache | None = None,
    ) -> None:
        """``known``: the facts of devices this process already learned (kept by the caller
        across workers of one run: a remote executor's one-cell workers)."""
        self.plan, self.recorder, self.stop = plan, recorder, stop
        self.known = known if known is not None else {}
        self.open_target, self.inputs = open_target, inputs
        self.host_cpu = host_cpu or threading.Lock()
        self.lock: DeviceLock | None = None
        self.running: tuple[Cell, float] | None = None  # the cell, since (time.monotonic)
        self.aborted = threading.Event()  # a second Ctrl-C: the running cell is dropped

    def run(self, cells: list[Cell], first_index: int = 0) -> None:
        """``first_index``: the plan's number of the first cell (names its output files)."""
        try:
            target = self.open_target(cells[0].device)
        except TargetError as exc:
            self._fail_all(cells, str(exc))
            return
        settings = self.plan.settings
        lock = DeviceLock(target, self.plan.run_id, settings.lock_timeout_s, interrupted=self.stop)
        try:
            lock.acquire()
            self.lock = lock
        except WaitInterrupted:  # Ctrl-C: no cell ran, so none has a row; --resume runs them
            target.close()
            return
        except TargetError as exc:  # busy (DeviceBusy), or the device failed while locking
            self._fail_all(cells, str(exc))
            target.close()
            return
        try:
            self._run_cells(target, cells, first_index)
        except OSError as exc:
            if disk_full(exc):  # the host's run folder: nothing more can be kept, so stop all
                self.stop.set()
            raise
        finally:
            lock.release()
            target.close()

    def abort(self) -> None:
        """Stop the running cell now: kill its runner (by the lock's record) and keep no row
        for it, so that `farm run --resume` runs it again."""
        self.aborted.set()
        if self.lock is not None and self.running is not None:
            with contextlib.suppress(TargetError):
                self.lock.stop_runner()

    def _fail_all(self, cells: list[Cell], reason: str) -> None:
        for cell in cells:
            self.recorder.record(self._failed(cell, "infra", reason, utc_now(), None))

    def _run_cells(self, target: Target, cells: list[Cell], first_index: int) -> None:
        self.device = cells[0].device
        key = (self.plan.run_id, target.name)
        facts = self.known.get(key) or DeviceFacts.of(target)
        if facts.description is not None:  # a device that did not answer is asked again
            self.known[key] = facts
        fingerprint = self._fingerprint(target, facts.description)
        self.telemetry = facts.telemetry
        plan = self.plan
        measurer = CellMeasurer(
            target, plan.run_id, plan.run_dir, plan.settings, facts, self.inputs
        )
        measurer.lock = self.lock
        absent, problem = self._preflight(target, cells, measurer, facts)
        if facts.native:
            self._record_binary(target.name, *facts.native)
        if problem:
            self._fail_all(cells, problem)
            return
        health = FailureStreak(plan.settings.quarantine_after)
        for index, cell in enumerate(cells, first_index):
            if self.stop.is_set():
                return
            if health.quarantined:
                result = self._failed(cell, "infra", health.reason, utc_now(), None)
            elif cell.delegate in absent:
                result = skipped_result(self.plan.run_id, Skip(cell, absent[cell.delegate]))
            else:
                result = self._with_retries(measurer, cell, index, fingerprint)
                health.observe(result.failure_kind, result.reason)
            if self.aborted.is_set():
                return
            self.recorder.record(dataclasses.replace(result, device_fingerprint=fingerprint))

    def _with_retries(
        self, measurer: CellMeasurer, cell: Cell, index: int, fingerprint: str | None
    ) -> CellResult:
        """Only infra failures are retried, on the same device, with a growing pause; each
        failed attempt is journaled too (the last attempt's row wins)."""
        settings = self.plan.settings
        for attempt in range(1, settings.retries + 2):
            self.running = (cell, time.monotonic())
            try:
                result = self.run_cell(measurer, cell, index)
            finally:
                self.running = None
            result = dataclasses.replace(result, attempt=attempt)
            pause_s = retry_pause_s(settings, result.failure_kind, attempt)
            if pause_s is None or self.aborted.is_set():
                return result
            self.recorder.record(dataclasses.replace(result, device_fingerprint=fingerprint))
            if self.stop.wait(pause_s):
                return result
        raise AssertionError("unreachable")

    def _preflight(
        self, target: Target, cells: list[Cell], measurer: CellMeasurer, facts: DeviceFacts
    ) -> tuple[dict[str, str], str | None]:
        """Ask the device before its first cell (once per run: the answers are ``facts``):
        declared delegates it lacks, and a problem that stops every cell (no runtime imports,
        no room for the models, no benchmark_model for its ABI)."""
        device = cells[0].device
        ask_runner = runner_probe_needed(device, {cell.delegate for cell in cells})
        if ask_runner not in facts.probes:
            try:
                facts.probes[ask_runner] = probe_device(target, device, measurer.files, ask_runner)
            except (TargetError, RunnerError):
                facts.probes[ask_runner] = None
        probe = facts.probes[ask_runner]
        if probe is None:
            return {}, None  # the cells themselves will fail with the transport's reason
        sizes = {cell.model.sha256: cell.model.size_bytes for cell in cells}
        needed_mb = sum(sizes.values()) / 2**20 + PREFLIGHT_MARGIN_MB
        problem = preflight_problem(probe, device, target.workdir, needed_mb)
        if problem is None and device.runner == "benchmark_model":
            try:
                measurer.native_binary(device)
            except RunnerError as exc:
                problem = f"pre-flight: {exc}"
        return probe.absent, problem

    def _record_binary(self, device: str, path: str, sha256: str) -> None:
        """run.json keeps which benchmark_model a device ran: its sha256 (the cells' runtime
        version) and, for Google's prebuilt binary, the URL it was fetched from."""
        source = source_of(Path(path)) or {}
        url = source.get("url") if source.get("sha256") == sha256 else None
        binary = {"path": path, "sha256": sha256, "url": url}
        self.recorder.fingerprints.setdefault(device, {})["benchmark_model"] = binary

    def _fingerprint(self, target: Target, description: dict[str, Any] | None) -> str | None:
        if description is None:
            return None
        # run.json also keeps the device's cooldown target: the dashboard flags hot cells by it.
        cooldown = self.device.options.cooldown
        facts = {**description, "cooldown": dataclasses.asdict(cooldown) if cooldown else None}
        self.recorder.fingerprints[target.name] = facts
        return json.dumps(description, sort_keys=True)

    def run_cell(self, measurer: CellMeasurer, cell: Cell, index: int) -> CellResult:
        """One cell, always as a row: a transport failure or timeout is a row too."""
        guard = self.host_cpu if cell.device.shares_host_cpu else contextlib.nullcontext()
        target, telemetry = measurer.target, self.telemetry
        with guard:
            temp_before = telemetry.before_cell(target, cell.device)
            freq_before = telemetry.frequency(target)
            result = self._measured(measurer, cell, index)
            temp_after, freq_after = telemetry.temperature(target), telemetry.frequency(target)
        return dataclasses.replace(
            result,
            temp_before_c=temp_before,
            temp_after_c=temp_after,
            cpu_freq_before_mhz=freq_before,
            cpu_freq_after_mhz=freq_after,
        )

    def _measured(self, measurer: CellMeasurer, cell: Cell, index: int) -> CellResult:
        started, start = utc_now(), time.perf_counter()
        try:
            outcome, runner_wall_s = measurer.measure(cell, index)
        except TargetTimeout as exc:
            return self._failed(cell, "timeout", str(exc), started, time.perf_counter() - start)
        except (TargetError, RunnerError) as exc:
            return self._failed(cell, "infra", str(exc), started, time.perf_counter() - start)
        wall_s = time.perf_counter() - start
        result = outcome_result(self.plan.run_id, cell, outcome, started, wall_s)
        return dataclasses.replace(result, runner_wall_s=runner_wall_s)

    def _failed(
        self, cell: Cell, kind: FailureKind, reason: str, started: str, wall: float | None
    ) -> CellResult:
        return failed_result(self.plan.run_id, cell, kind, reason, started, wall)
