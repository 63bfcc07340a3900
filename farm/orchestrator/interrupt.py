"""Ctrl-C (and SIGTERM, which the CLI turns into one) while cells run.

The first: no new cell starts; the running cells are measured to their end and kept, and the
console says at once which cells on which devices it waits for, for how long at most, and that
a second Ctrl-C stops them. The second: their runners are killed (by the device lock's record,
on every transport), no row is kept for them, so `farm run --resume` runs them again, and the
run still writes everything that finished."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, wait
from typing import Protocol

from farm.spec import Cell, RunSettings

LOG = logging.getLogger("farm")
ABORT_AGAIN_S = 1.0  # a runner started after the kill (the cell was still staging) is killed too


class Stoppable(Protocol):
    """A device worker, as Ctrl-C sees it."""

    running: tuple[Cell, float] | None  # the cell, and since when (time.monotonic)

    def abort(self) -> None: ...


def wait_or_stop(
    jobs: list[Future[None]],
    stop: threading.Event,
    workers: Sequence[Stoppable],
    settings: RunSettings,
) -> bool:
    """Wait for every job; True when Ctrl-C interrupted the run. Re-raises a job's error."""
    interrupted = False
    try:
        _wait(jobs)
    except KeyboardInterrupt:
        stop.set()
        interrupted = True
        LOG.warning(waiting_for(workers, settings))
        _wait_or_abort(jobs, workers)
    for job in jobs:
        job.result()
    return interrupted


def waiting_for(workers: Sequence[Stoppable], settings: RunSettings) -> str:
    """What the first Ctrl-C prints: the running cells and how long they may still take."""
    running = [worker.running for worker in workers if worker.running is not None]
    if not running:
        return "interrupted: no new cell starts; writing what finished"
    now = time.monotonic()
    left_s = max(_budget_s(cell, settings) - (now - since) for cell, since in running)
    cells = ", ".join(
        f"{c.device.name}/{c.model.name}/{c.delegate}/t{c.threads}" for c, _ in running
    )
    return (
        f"interrupted: no new cell starts; waiting for the running cells ({cells}) to finish, "
        f"at most {max(left_s, 0):.0f} s (--timeout); press Ctrl-C again to stop them now"
    )


def _budget_s(cell: Cell, settings: RunSettings) -> float:
    repeats = settings.repeats if cell.device.runner == "python" else 1
    return settings.timeout_s * repeats


def _wait_or_abort(jobs: list[Future[None]], workers: Sequence[Stoppable]) -> None:
    try:
        _wait(jobs)
    except KeyboardInterrupt:
        LOG.warning("interrupted again: stopping the running cells; writing what finished")
        while not all(job.done() for job in jobs):
            for worker in workers:
                worker.abort()
            wait(jobs, timeout=ABORT_AGAIN_S)


def _wait(jobs: list[Future[None]]) -> None:
    while not all(job.done() for job in jobs):
        wait(jobs, timeout=0.5)
