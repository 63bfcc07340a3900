"""The host itself as a device: subprocesses and file copies."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from farm.errors import TargetError, TargetTimeout, disk_full
from farm.targets.base import CommandResult
from farm.targets.local_commands import run_in_process
from farm.targets.parent_death import dying_with_this_process


class LocalTarget:
    """Runs cells on this host. ``python3`` in an argv means the farm's own interpreter."""

    def __init__(self, name: str, workdir: str, python: str = "python3") -> None:
        self.name = name
        self.workdir = workdir
        # On the host, "python3" should be the interpreter that runs the farm (it has LiteRT).
        self.python = sys.executable if python == "python3" else python
        Path(workdir).mkdir(parents=True, exist_ok=True)

    def push(self, local: str, remote: str) -> None:
        try:
            Path(remote).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(local, remote)
        except OSError as exc:
            raise TargetError(self.name, f"cannot copy {local} to {remote}: {exc}") from exc

    def pull(self, remote: str, local: str) -> None:
        try:
            Path(local).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(remote, local)
        except OSError as exc:
            if disk_full(exc):  # the host's run folder, not the device: the run stops
                raise
            raise TargetError(self.name, f"cannot copy {remote} to {local}: {exc}") from exc

    def run(self, argv: list[str], timeout_s: float) -> CommandResult:
        # "python3" as the program, or as the program another one runs (taskset, the lock's
        # runner record: lock.py), is the farm's own interpreter here.
        argv = [self.python if word == "python3" else word for word in argv]
        answered = run_in_process(argv, self.workdir)
        if answered is not None:
            return answered
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                # Its own session: a terminal's Ctrl-C reaches the farm, which decides (it lets
                # the cell end, or kills the group on a second one); and it dies with the farm.
                start_new_session=True,
                preexec_fn=dying_with_this_process(),
                cwd=self.workdir,
            )
        except OSError as exc:
            raise TargetError(self.name, f"cannot start {argv[0]}: {exc.strerror}") from exc
        try:
            out, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            _kill_group(proc)
            raise TargetTimeout(self.name, argv, timeout_s) from exc
        return CommandResult(tuple(argv), proc.returncode, out, err, time.perf_counter() - start)

    def describe(self) -> dict[str, Any]:
        return {
            "transport": "local",
            "model": _cpu_model(),
            "machine": platform.machine(),
            "os": f"{platform.system()} {platform.release()}",
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
        }

    def close(self) -> None:
        pass


def _kill_group(proc: subprocess.Popen[str]) -> None:
    # The runner may have children (a delegate's helper); the whole session goes.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
