"""Benchmark: devices run in parallel. Four virtual Android devices (real adb server) finish
4 x N device-bound cells in at most 1.3 x the wall time one device needs for its N.

"Device-bound" cells spend their time on the device, not on this host's CPU: the devices run
a stand-in benchmark_model that waits and then prints a real device's output, and say
shares_host_cpu: false, as phones on USB would.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from farm.job import run_plan
from farm.sim.adb_server import AdbServer
from farm.sim.device import VirtualDevice

from ..lab import DATA, phone_entry, phones_behind_adb, plan_lab, write_devices

pytestmark = pytest.mark.perf
CELLS_PER_DEVICE = 6
CELL_S = 0.5


@pytest.fixture
def four_phones(tmp_path: Path) -> Iterator[tuple[AdbServer, list[VirtualDevice]]]:
    with phones_behind_adb(tmp_path, "pixel8", 4) as server_and_phones:
        yield server_and_phones


def lab(tmp_path: Path, server: AdbServer, phones: list[VirtualDevice]) -> Path:
    binary = tmp_path / "benchmark_model"
    log = DATA / "benchmark_model_logs" / "06_ti-am62x-tflite2.20-xnnpack-percentiles.txt"
    # The phone's own shell, and the log inside the script: a confined phone sees no host path.
    output = log.read_text()
    binary.write_text(f"#!/system/bin/sh\nsleep {CELL_S}\ncat <<'LOG'\n{output}LOG\n")
    keys = {"runner": "benchmark_model", "benchmark_model": binary, "shares_host_cpu": False}
    keys |= {"delegates": ["cpu", "xnnpack"], "threads": [1, 2, 4]}
    devices = {
        f"phone{i}": phone_entry(p.serial, server.port, **keys) for i, p in enumerate(phones)
    }
    return write_devices(tmp_path / f"devices-{len(phones)}.yaml", devices)


def timed_run(devices: Path, models: Path, run_dir: Path, cells: int) -> float:
    plan = plan_lab(devices, models, runs=5, warmup=1, seed=1, run_dir=run_dir)
    start = time.perf_counter()
    outcome = run_plan(plan)
    wall = time.perf_counter() - start
    assert len(outcome.results) == cells
    assert all(r.status == "ok" for r in outcome.results), [r.reason for r in outcome.results]
    return wall


def test_four_devices_take_at_most_1_3_times_one(
    benchmark: pytest.FixtureRequest,
    tmp_path: Path,
    four_phones: tuple[AdbServer, list[VirtualDevice]],
) -> None:
    server, phones = four_phones
    models = tmp_path / "models"
    models.mkdir()
    (models / "m.tflite").write_bytes(b"read by the device's benchmark_model, not the farm")
    one = timed_run(lab(tmp_path, server, phones[:1]), models, tmp_path / "one", CELLS_PER_DEVICE)
    four = benchmark.pedantic(
        timed_run,
        args=(lab(tmp_path, server, phones), models, tmp_path / "four", 4 * CELLS_PER_DEVICE),
        rounds=1,
        iterations=1,
    )
    benchmark.extra_info.update(one_device_s=one, four_devices_s=four, ratio=four / one)
    print(
        f"\n1 device x {CELLS_PER_DEVICE} cells: {one:.2f} s; 4 devices: {four:.2f} s; "
        f"ratio {four / one:.2f}"
    )
    assert four <= 1.3 * one
