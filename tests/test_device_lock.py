"""The lock on the device: two runs never share a device; locks of dead runs expire."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import threading
from pathlib import Path

import pytest

from farm.job import run_plan
from farm.targets.local import LocalTarget
from farm.targets.lock import DeviceBusy, DeviceLock

from .lab import model_folder_with, plan_lab


def test_a_second_run_waits_then_gives_up_naming_the_holder(tmp_path: Path) -> None:
    target = LocalTarget("host", str(tmp_path / "work"))
    waits: list[str] = []
    busy = pytest.raises(DeviceBusy, match=r"device busy: locked by run=run-a host=")
    with DeviceLock(target, "run-a"), busy:
        DeviceLock(target, "run-b", timeout_s=0.3, on_wait=waits.append).acquire()
    assert waits and "waiting for the device lock held by run=run-a" in waits[0]
    now = dt.datetime.now(dt.timezone.utc)
    assert "since=" not in waits[0] and f"since {now:%Y-%m-%d} " in waits[0]
    with DeviceLock(target, "run-b", timeout_s=0.3):
        assert (tmp_path / "work" / ".farm-lock" / "owner").read_text().startswith("run=run-b")
    assert not (tmp_path / "work" / ".farm-lock").exists()


def test_a_lock_nobody_refreshed_for_too_long_is_taken_over(tmp_path: Path) -> None:
    lock = tmp_path / "work" / ".farm-lock"
    lock.mkdir(parents=True)
    (lock / "owner").write_text("run=old host=elsewhere pid=1 since=0")
    subprocess.run(["touch", "-d", "@0", str(lock / "owner")], check=True)
    with DeviceLock(LocalTarget("host", str(tmp_path / "work")), "new", timeout_s=1, stale_s=60):
        assert "run=new" in (lock / "owner").read_text()


def test_a_lock_of_a_dead_process_on_this_host_is_taken_over_at_once(tmp_path: Path) -> None:
    lock = tmp_path / "work" / ".farm-lock"
    lock.mkdir(parents=True)
    pid = _dead_pid()
    (lock / "owner").write_text(f"run=killed host={platform.node()} pid={pid} since=0")
    with DeviceLock(LocalTarget("host", str(tmp_path / "work")), "new", timeout_s=0.5):
        assert "run=new" in (lock / "owner").read_text()


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    with pytest.raises(ProcessLookupError):
        os.kill(child.pid, 0)
    return child.pid


def test_two_runs_on_one_device_never_overlap(host_lab: Path, tmp_path: Path) -> None:
    models = model_folder_with(tmp_path, "kws_dscnn_int8", name="m")
    plans = [
        plan_lab(host_lab, models, runs=20, warmup=1, seed=1, run_dir=tmp_path / name)
        for name in ("a", "b")
    ]
    outcomes: list = [None, None]

    def run(i: int) -> None:
        outcomes[i] = run_plan(plans[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    spans = [_span(outcome.results) for outcome in outcomes]
    first, second = sorted(spans)
    assert first[1] <= second[0]  # one run's cells all ended before the other's began
    assert all(r.status == "ok" for outcome in outcomes for r in outcome.results)


def _span(results: list) -> tuple[dt.datetime, dt.datetime]:
    starts = [dt.datetime.fromisoformat(r.started_at) for r in results]
    ends = [s + dt.timedelta(seconds=r.wall_s) for s, r in zip(starts, results, strict=True)]
    return min(starts), max(ends)
