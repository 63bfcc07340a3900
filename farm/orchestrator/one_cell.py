"""One cell on its own, away from the run's folder: what a remote executor's task runs.

The same DeviceWorker as the local executor opens the device, takes its on-device lock,
describes it, probes and measures, in a scratch folder on the lab host. The row, the device's
description and the files the cell wrote there (the runner's raw output, output tensors for
parity) come back as one picklable report for the driver to journal and keep.

Retries and quarantine are the caller's: here a cell is measured exactly once. What the worker
learns of a device (description, telemetry, probe, benchmark_model) is kept in this process
for the run's later cells of that device (``KNOWN``).
"""

from __future__ import annotations

import dataclasses
import platform
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from farm.orchestrator.execute import Connect, DeviceWorker, Recorder
from farm.orchestrator.facts import FactsCache
from farm.orchestrator.plan import RunPlan
from farm.spec import Cell, CellResult
from farm.store import JOURNAL
from farm.targets import connect

KNOWN_RUNS = 4  # runs whose device facts a process keeps (two drivers may share a host)
KNOWN: dict[str, FactsCache] = {}  # run id -> what this process learned of its devices


@dataclass(frozen=True)
class CellReport:
    """A cell's row, its device's description (None: not reachable), the files it wrote
    (keyed by their path relative to the run folder) and the host that drove the device."""

    result: CellResult
    fingerprint: dict[str, Any] | None
    files: dict[str, bytes]
    lab_host: str = dataclasses.field(default_factory=platform.node)  # where it was made

    def write_files(self, run_dir: Path) -> None:
        """Put the cell's files where a local run would have left them."""
        for relative, data in self.files.items():
            path = run_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


def run_one_cell(
    plan: RunPlan,
    cell: Cell,
    index: int,
    inputs: dict[str, Path],
    open_target: Connect = connect,
) -> CellReport:
    """Measure ``cell`` once (``index``: its number in the plan) and report what it left."""
    with tempfile.TemporaryDirectory(prefix="farm-cell-") as scratch:
        run_dir = Path(scratch)
        settings = dataclasses.replace(plan.settings, retries=0)
        alone = dataclasses.replace(
            plan, run_dir=run_dir, cells=(cell,), skips=(), done=(), settings=settings
        )
        recorder = Recorder(run_dir, None)
        known = _known(plan.run_id)
        worker = DeviceWorker(alone, recorder, threading.Event(), open_target, inputs, known=known)
        worker.run([cell], first_index=index)
        recorder.journal.close()
        (result,) = recorder.results
        fingerprint = recorder.fingerprints.get(cell.device.name)
        return CellReport(result, fingerprint, _files(run_dir))


def _known(run_id: str) -> FactsCache:
    if run_id not in KNOWN:
        while len(KNOWN) >= KNOWN_RUNS:
            KNOWN.pop(next(iter(KNOWN)))  # the oldest run
        KNOWN[run_id] = {}
    return KNOWN[run_id]


def _files(run_dir: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(run_dir)): path.read_bytes()
        for path in sorted(run_dir.rglob("*"))
        if path.is_file() and path.name != JOURNAL
    }
