"""`farm.workers.share_work`: tasks shared between this process and spawned workers come back
in task order, each run once, each heard of once, and a task's error is raised here."""

from __future__ import annotations

import os
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from farm.workers import share_work, usable_cores


def square_and_where(n: int) -> tuple[int, int]:
    """A task: its result and the process that ran it."""
    return n * n, os.getpid()


def waits_for_the_pool(task: tuple[int, Path, int]) -> int:
    """A task that, run here as this process's first (the last task), waits until a worker has
    run one: so the pool surely takes part, however slowly it starts (at most a minute)."""
    index, marker, parent = task
    if os.getpid() != parent:
        marker.touch()
    elif index == LAST:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    return os.getpid()


LAST = 9


def dies_in_a_worker(task: tuple[int, Path, int]) -> int:
    """A worker running this leaves a mark and dies at once (as if killed for memory); this
    process, at its first task, waits for the mark."""
    index, marker, parent = task
    if os.getpid() != parent:
        marker.touch()
        os._exit(9)
    waits_for_the_pool(task)
    return index


class NotForWorkers:
    """A task that cannot be pickled, so it cannot reach a worker."""

    def __reduce__(self) -> str:
        raise TypeError("sent to a worker")


def kind_of(task: object) -> str:
    return type(task).__name__


def fails_on_seven(n: int) -> int:
    if n == 7:
        raise ValueError(f"task {n} failed")
    return n


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_results_come_back_in_task_order_each_task_run_once(workers: int) -> None:
    heard: list[int] = []

    done = share_work(square_and_where, range(40), workers=workers, done=heard.append)

    assert [result for result, _ in done] == [n * n for n in range(40)]
    assert sorted(heard) == list(range(40))  # each task heard of once
    processes = {pid for _, pid in done}
    assert os.getpid() in processes  # this process works too
    assert len(processes) <= workers


def test_the_pool_takes_part(tmp_path: Path) -> None:
    tasks = [(index, tmp_path / "a worker ran", os.getpid()) for index in range(LAST + 1)]

    processes = share_work(waits_for_the_pool, tasks, workers=2)

    assert len(set(processes)) == 2 and processes[LAST] == os.getpid()


def test_a_worker_that_dies_fails_the_whole_rather_than_waiting(tmp_path: Path) -> None:
    tasks = [(index, tmp_path / "a worker died", os.getpid()) for index in range(LAST + 1)]
    with pytest.raises(BrokenProcessPool):
        share_work(dies_in_a_worker, tasks, workers=2)


def test_one_task_or_one_worker_spawns_nothing() -> None:
    assert share_work(square_and_where, [3], workers=4) == [(9, os.getpid())]
    assert {pid for _, pid in share_work(square_and_where, range(5))} == {os.getpid()}


@pytest.mark.parametrize("workers", [1, 2])
def test_an_error_in_a_task_is_raised_here(workers: int) -> None:
    with pytest.raises(ValueError, match="task 7 failed"):
        share_work(fails_on_seven, range(20), workers=workers)


def test_the_last_task_runs_here_and_is_never_sent() -> None:
    tasks: list[object] = [*range(8), NotForWorkers()]

    kinds = share_work(kind_of, tasks, workers=2)

    assert kinds == ["int"] * 8 + ["NotForWorkers"]


def test_usable_cores_counts_the_cores_this_process_may_use() -> None:
    assert 1 <= usable_cores() <= (os.cpu_count() or 1)
    if not hasattr(os, "sched_setaffinity"):
        return
    every = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(every)})
        assert usable_cores() == 1
    finally:
        os.sched_setaffinity(0, every)
