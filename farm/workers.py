"""CPU-bound work shared between this process and worker processes.

The dashboard's device pages are pandas and plotly calls that hold the GIL: threads did not
make them faster, processes do. Workers are *spawned* (a fresh interpreter that imports what
the task needs): forking a process whose progress bar runs a thread can leave the child a lock
that is never released. Spawning re-imports the caller's `__main__` module, so a script that
asks for workers needs the usual `if __name__ == "__main__":` guard; the farm's functions ask
for none unless told (`workers=1`), the CLI asks for one per core.

This process works too: the pool takes tasks from the front of the list, this process from the
back, each task once (whoever claims it first in a shared table runs it). The last task is this
process's alone and never sent to the pool (the summary page, the largest, is last: pickling it
for a worker that would only find it claimed cost 38 MB and 0.16 s). Every task is a pure
function of its argument, so who ran it never changes the result, and results come back in task
order. Workers ignore Ctrl-C: this process hears it and drops the tasks not yet started; a
worker that dies (killed for memory) fails the whole with BrokenProcessPool, never a wait.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Generic, TypeVar

Task = TypeVar("Task")
Result = TypeVar("Result")
Done = Callable[[int], None]
"""Told the index of each task as it finishes, in this process, in the order they finish."""

_claims: Any = None  # a worker's view of the shared claim table (set as it starts)


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def share_work(
    function: Callable[[Task], Result],
    tasks: Sequence[Task],
    *,
    workers: int = 1,
    done: Done | None = None,
) -> list[Result]:
    """`[function(task) for task in tasks]` on `workers` processes in all, this one included.
    `function` must be importable by name (a module's top-level function) and `tasks`
    picklable. An exception in a task is raised here."""
    processes = min(len(tasks), workers)
    if processes < 2:
        return [_run(function, task, index, done) for index, task in enumerate(tasks)]
    spawn = multiprocessing.get_context("spawn")
    claims = spawn.Array("b", len(tasks))
    with ProcessPoolExecutor(
        processes - 1, mp_context=spawn, initializer=_start_worker, initargs=(claims,)
    ) as pool:
        to_pool = tasks[:-1]  # the last is this process's own (see the module's docstring)
        pending = [
            pool.submit(_claimed, function, index, task) for index, task in enumerate(to_pool)
        ]
        try:
            return _Shared(function, tasks, claims, pending, done).gather()
        except BaseException:  # a task failed, or Ctrl-C: wait only for the running ones
            pool.shutdown(wait=True, cancel_futures=True)  # while `claims` is still here
            raise


class _Shared(Generic[Task, Result]):
    """The tasks, who claimed which, and what has come back."""

    def __init__(
        self,
        function: Callable[[Task], Result],
        tasks: Sequence[Task],
        claims: Any,
        pending: list[Future[tuple[bool, Any]]],
        done: Done | None,
    ) -> None:
        self.function, self.tasks, self.claims, self.done = function, tasks, claims, done
        self.pending = dict(enumerate(pending))
        self.results: dict[int, Result] = {}

    def gather(self) -> list[Result]:
        for index in reversed(range(len(self.tasks))):  # the pool starts at the front
            self.hear(wait=False)
            if _claim(self.claims, index):
                self.results[index] = _run(self.function, self.tasks[index], index, self.done)
        self.hear(wait=True)
        return [self.results[index] for index in range(len(self.tasks))]

    def hear(self, wait: bool) -> None:
        """Collect the pool's finished tasks (all of them when `wait`)."""
        for index, result in list(self.pending.items()):
            if not (wait or result.done()):
                continue
            ran, value = result.result()  # a task's exception is raised here
            del self.pending[index]
            if ran:
                self.results[index] = value
                if self.done:
                    self.done(index)


def _run(function: Callable[[Task], Result], task: Task, index: int, done: Done | None) -> Result:
    result = function(task)
    if done:
        done(index)
    return result


def _claim(claims: Any, index: int) -> bool:
    """Take task `index` unless a process already has."""
    with claims.get_lock():
        if claims[index]:
            return False
        claims[index] = 1
        return True


def _start_worker(claims: Any) -> None:
    global _claims
    _claims = claims
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _claimed(function: Callable[[Task], Result], index: int, task: Task) -> tuple[bool, Any]:
    """In a worker: (True, the result) when it claimed the task, (False, None) when this
    process had."""
    if not _claim(_claims, index):
        return False, None
    return True, function(task)
