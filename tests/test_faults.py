"""Fault injection: each fault gives its cells a clear reason, the other cells finish, and no
finished result is lost. (Other faults are tested where their part lives: SSH host down and
host keys in test_ssh_lab, SIGINT/SIGKILL and resume in test_resume, concurrent runs in
test_device_lock, corrupt models and custom ops in test_cli_run, delegate libraries in
test_external_delegate, malformed devices.yaml in test_config.)"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from farm.cli import app
from farm.job import RunRequest, plan_run, run_plan
from farm.orchestrator.probe import DeviceProbe, preflight_problem, runner_probe_needed
from farm.sim.adb_server import AdbServer
from farm.sim.device import VirtualDevice
from farm.spec import CellResult, Device
from farm.store import read_journal

from .lab import MODELS, phone_entry

pytestmark = pytest.mark.lab


def run(tmp_path: Path, devices: str, model: str = "kws_dscnn_int8", **kw: Any) -> pd.DataFrame:
    (tmp_path / "devices.yaml").write_text("devices:\n" + devices)
    models = tmp_path / "models"
    models.mkdir(exist_ok=True)
    shutil.copyfile(MODELS / f"{model}.tflite", models / f"{model}.tflite")
    settings = {"runs": 5, "warmup": 1, "seed": 1, **kw.pop("settings", {})}
    request = RunRequest(tmp_path / "devices.yaml", models, run_dir=tmp_path / "run", **settings)
    run_plan(plan_run(request), **kw)
    frame = pd.read_parquet(tmp_path / "run" / "results.parquet")
    assert len(read_journal(tmp_path / "run" / "journal.jsonl")) == len(frame)
    return frame


def host(tmp_path: Path) -> str:
    return (
        f"  host:\n    transport: local\n    delegates: [xnnpack]\n    threads: [1]\n"
        f"    workdir: {tmp_path / 'host-work'}\n"
    )


def native_board(tmp_path: Path, script: str) -> str:
    binary = tmp_path / "benchmark_model"
    binary.write_text("#!/bin/sh\n" + script)
    binary.chmod(0o755)
    return (
        f"  board:\n    transport: local\n    runner: benchmark_model\n"
        f"    benchmark_model: {binary}\n    delegates: [cpu]\n    threads: [1, 2]\n"
        f"    shares_host_cpu: false\n    workdir: {tmp_path / 'board-work'}\n"
    )


def phone(server: AdbServer, device: VirtualDevice, name: str = "phone") -> str:
    return phone_entry(
        name, device.serial, server.port, runner="python", delegates="[cpu, xnnpack]", threads="[1]"
    )


def test_a_hanging_runner_is_killed_at_the_timeout(tmp_path: Path) -> None:
    marker = tmp_path / "still-running"
    board = native_board(tmp_path, f"sleep 30; touch {shlex.quote(str(marker))}\n")
    frame = run(tmp_path, board + host(tmp_path), settings={"timeout_s": 1.0})
    hung = frame[frame.device == "board"]
    assert (
        set(hung.failure_kind) == {"timeout"}
        and hung.reason.str.contains("timed out after 1 s").all()
    )
    assert set(frame[frame.device == "host"].status) == {"ok"}
    assert not marker.exists()


def test_a_runner_printing_garbage_fails_with_what_it_printed(tmp_path: Path) -> None:
    board = native_board(tmp_path, "echo 'lorem ipsum count= avg= no numbers here'\n")
    frame = run(tmp_path, board + host(tmp_path))
    garbage = frame[frame.device == "board"]
    assert set(garbage.failure_kind) == {"infra"}
    assert garbage.reason.str.contains("no numbers here").all()
    assert set(frame[frame.device == "host"].status) == {"ok"}


def test_a_refused_push_fails_the_attempt_naming_the_file_and_free_space(
    tmp_path: Path, adb_server: AdbServer, virtual_devices: list[VirtualDevice]
) -> None:
    full, fine = virtual_devices
    warm = tmp_path / "warm"  # an earlier run left the runner there: the pre-flight pushes nothing
    warm.mkdir()
    run(warm, phone(adb_server, full, "full"), model="kws_dscnn_fp32")
    full.fail_next_push("No space left on device")  # the model's push, in the first cell
    frame = run(tmp_path, phone(adb_server, full, "full") + phone(adb_server, fine, "fine"))
    attempts = [json.loads(line) for line in (tmp_path / "run" / "journal.jsonl").open()]
    failed = [a for a in attempts if a["device"] == "full" and a["status"] == "failed"]
    assert failed and failed[0]["failure_kind"] == "infra"
    assert "cannot push" in failed[0]["reason"] and "MB free there" in failed[0]["reason"]
    assert set(frame[frame.device == "fine"].status) == {"ok"}
    assert set(frame[frame.device == "full"].status) == {"ok"}  # the retry found space


def test_the_adb_server_killed_mid_run_fails_the_phones_cells_as_infra(
    tmp_path: Path, adb_server: AdbServer, virtual_devices: list[VirtualDevice]
) -> None:
    def kill_server(result: CellResult) -> None:
        if result.device == "phone" and result.status == "ok":
            adb_server.stop()

    frame = run(
        tmp_path,
        phone(adb_server, virtual_devices[0]) + host(tmp_path),
        model="mobilenet_v2_int8",
        on_result=kill_server,
    )
    cells = frame[frame.device == "phone"].sort_values("started_at")
    assert list(cells.status) == ["ok", "failed"]
    assert cells.iloc[1].failure_kind == "infra" and "adb" in cells.iloc[1].reason
    assert set(frame[frame.device == "host"].status) == {"ok"}


def test_a_phone_that_vanishes_mid_cell_fails_that_cell_as_infra(
    tmp_path: Path, adb_server: AdbServer, virtual_devices: list[VirtualDevice]
) -> None:
    gone, stays = virtual_devices
    started = threading.Event()

    def unplug_during_the_next_cell(result: CellResult) -> None:
        if result.device == "gone" and not started.is_set():
            started.set()
            threading.Timer(0.5, gone.go_offline).start()

    frame = run(
        tmp_path,
        phone(adb_server, gone, "gone") + phone(adb_server, stays, "stays"),
        model="mobilenet_v2_fp32",
        settings={"runs": 1500},
        on_result=unplug_during_the_next_cell,
    )
    cells = frame[frame.device == "gone"].sort_values("started_at")
    assert cells.iloc[0].status == "ok" and cells.iloc[1].failure_kind == "infra"
    assert set(frame[frame.device == "stays"].status) == {"ok"}


def test_a_device_whose_python_has_no_tflite_runtime_fails_before_its_first_cell(
    tmp_path: Path,
) -> None:
    python = tmp_path / "python-without-site"  # a board's bare Python: no numpy, no LiteRT
    python.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -S "$@"\n')
    python.chmod(0o755)
    bare = (
        f"  bare:\n    transport: local\n    python: {python}\n    delegates: [cpu, xnnpack]\n"
        f"    threads: [1]\n    workdir: {tmp_path / 'bare-work'}\n"
    )
    frame = run(tmp_path, bare + host(tmp_path))
    argv = ["devices", "-d", str(tmp_path / "devices.yaml"), "--probe"]
    probe = CliRunner().invoke(app, argv, env={"COLUMNS": "300"})  # one line per device

    assert probe.exit_code == 0 and "none: no TFLite runtime" in probe.output
    cells = frame[frame.device == "bare"]
    assert len(cells) == 2 and set(cells.failure_kind) == {"infra"}
    assert cells.reason.str.startswith("pre-flight: no TFLite runtime imports on bare").all()
    assert cells.reason.str.contains("No module named 'ai_edge_litert'").all()
    assert cells.wall_s.isna().all()  # no cell was started
    assert set(frame[frame.device == "host"].status) == {"ok"}


def test_the_pre_flight_stops_a_device_without_room_for_its_models() -> None:
    device = Device("board", "ssh", ("cpu",))
    probe = DeviceProbe("board", runtimes={"tflite_runtime": "2.14.0"}, free_mb=3.5)

    problem = preflight_problem(probe, device, "/tmp/farm", needed_mb=30)
    assert problem == "pre-flight: 3.5 MB free in /tmp/farm on board; its cells need about 30 MB"
    assert preflight_problem(probe, device, "/tmp/farm", needed_mb=3) is None
    unknown = DeviceProbe("board", runtimes={"tflite_runtime": "2.14.0"})  # df did not answer
    assert preflight_problem(unknown, device, "/tmp/farm", needed_mb=30) is None


@pytest.mark.parametrize(
    ("device", "delegates", "asked"),
    [
        (Device("host", "local", ("cpu",)), {"cpu"}, False),  # the farm's own interpreter
        (Device("host", "local", ("edgetpu",)), {"edgetpu"}, True),  # the Edge TPU runtime
        (Device("host", "local", ("cpu",), options={"python": "/opt/py38"}), {"cpu"}, True),
        (Device("board", "ssh", ("cpu",)), {"cpu"}, True),
        (Device("phone", "adb", ("cpu",), runner="benchmark_model"), {"cpu"}, False),
    ],
)
def test_the_pre_flight_asks_the_runner_unless_it_is_the_farms_own_interpreter(
    device: Device, delegates: set[str], asked: bool
) -> None:
    assert runner_probe_needed(device, delegates) is asked
