"""The fault table: the faults a lab really has, one case each.

For every fault a user reads the reason on the cell it hit (or one error line when nothing can
run), the other cells finish, the journal keeps every finished cell, and `farm run --resume`
redoes only what is missing (`assert_kept_and_resumable`). The README's reliability section is
this table with what was measured.

| fault                                   | case here                                          |
|-----------------------------------------|----------------------------------------------------|
| device gone mid-cell                    | test_a_phone_that_vanishes_mid_cell_...            |
| adb server killed                       | test_the_adb_server_killed_mid_run_...             |
| hung runner                             | test_a_hanging_runner_is_killed_at_the_timeout     |
| sshd down mid-run                       | test_sshd_dying_mid_run_...                        |
| corrupt or zero-byte model              | test_a_corrupt_or_empty_model_...                  |
| custom op missing                       | test_a_model_needing_a_missing_custom_op_...       |
| delegate .so missing                    | test_a_missing_delegate_library_...                |
| device disk full                        | test_a_refused_push_..., test_the_pre_flight_stops_|
| runner has no TFLite runtime            | test_a_device_whose_python_has_no_tflite_runtime_. |
| runner printing garbage                 | test_a_runner_printing_garbage_...                 |
| orchestrator SIGINT / SIGTERM           | test_sigint_or_sigterm_writes_what_it_has_...      |
| orchestrator SIGKILL, stale lock, resume| test_sigkill_loses_no_finished_cell_...            |
| SIGKILL mid-cell: no runner left running| test_runner_lifetime.py: test_sigkill_of_the_farm_|
| a dead run's runner left on a phone     | test_runner_lifetime.py: test_resume_kills_the_... |
| Ctrl-C twice                            | test_runner_lifetime.py: test_a_second_ctrl_c_...  |
| Ctrl-C while waiting for a lock         | test_runner_lifetime.py: test_ctrl_c_while_...     |
| two runs on one device                  | test_a_device_another_live_run_holds_...           |
| truncated last journal line             | test_a_torn_last_journal_line_is_run_again_...     |
| host run dir on a full disk             | test_a_full_disk_under_the_run_folder_...          |
| malformed devices.yaml                  | test_invalid_devices_yaml_exits_2_with_one_line    |
| Ray node lost mid-cell                  | test_ray.py: test_a_lab_host_removed_mid_cell_...  |
| Ray head lacking a resource             | test_ray.py: test_a_hand_started_host_without_...  |

The Ray cases need Ray (`tox -e ray`); the lock's own rules are in test_device_lock.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from farm.config import load_models
from farm.errors import RunDirFull
from farm.orchestrator.probe import DeviceProbe, preflight_problem, runner_probe_needed
from farm.sim.adb_server import AdbServer
from farm.sim.device import VirtualDevice
from farm.spec import CellResult, Device, DeviceOptions
from farm.store import read_journal
from farm.targets.local import LocalTarget
from farm.targets.lock import DeviceLock

from .lab import (
    DATA,
    KWS,
    MODELS,
    Devices,
    LoopbackSshd,
    farm,
    free_port,
    model_folder_with,
    phone_entry,
    run_lab,
    tmpfs,
    wait_for,
    write_devices,
)

pytestmark = pytest.mark.lab
Key = tuple[str, str, str, int]
CELLS = len(load_models(MODELS)) * 2  # host_lab: cpu and xnnpack, one thread count
FAST = ["--runs", "5", "--warmup", "1", "--seed", "3"]


def started_at(run_dir: Path) -> dict[Key, str | None]:
    return {row.key: row.started_at for row in read_journal(run_dir / "journal.jsonl")}


def assert_kept_and_resumable(run_dir: Path) -> dict[Key, str | None]:
    """The journal holds every row the run reported, and --resume runs none of them again;
    returns the cells after the resume, with when each started."""
    before = started_at(run_dir)
    results = run_dir / "results.parquet"
    if results.exists():
        frame = pd.read_parquet(results)
        assert {tuple(k) for k in frame[["device", "model", "delegate", "threads"]].values} == set(
            before
        )
    code, output = farm("run", "--resume", run_dir)
    assert code in (0, 1), output
    after = started_at(run_dir)
    assert all(after[key] == when for key, when in before.items()), "a finished cell ran again"
    assert len(pd.read_parquet(results)) == len(after)
    return after


def host(tmp_path: Path) -> Devices:
    host = {"transport": "local", "delegates": ["xnnpack"], "threads": [1]}
    return {"host": host | {"workdir": tmp_path / "host-work"}}


def native_board(tmp_path: Path, script: str) -> Devices:
    binary = tmp_path / "benchmark_model"
    binary.write_text("#!/bin/sh\n" + script)
    binary.chmod(0o755)
    board = {"transport": "local", "runner": "benchmark_model", "benchmark_model": binary}
    board |= {"delegates": ["cpu"], "threads": [1, 2], "shares_host_cpu": False}
    return {"board": board | {"workdir": tmp_path / "board-work"}}


def phone(server: AdbServer, device: VirtualDevice, name: str = "phone") -> Devices:
    keys = {"runner": "python", "delegates": ["cpu", "xnnpack"], "threads": [1]}
    return {name: phone_entry(device.serial, server.port, **keys)}


def test_a_hanging_runner_is_killed_at_the_timeout(tmp_path: Path) -> None:
    marker = tmp_path / "still-running"
    board = native_board(tmp_path, f"sleep 30; touch {shlex.quote(str(marker))}\n")
    frame = run_lab(tmp_path, board | host(tmp_path), KWS, timeout_s=1.0)
    hung = frame[frame.device == "board"]
    assert (
        set(hung.failure_kind) == {"timeout"}
        and hung.reason.str.contains("timed out after 1 s").all()
    )
    assert set(frame[frame.device == "host"].status) == {"ok"}
    assert not marker.exists()
    assert_kept_and_resumable(tmp_path / "run")


def test_a_runner_printing_garbage_fails_with_what_it_printed(tmp_path: Path) -> None:
    board = native_board(tmp_path, "echo 'lorem ipsum count= avg= no numbers here'\n")
    frame = run_lab(tmp_path, board | host(tmp_path), KWS)
    garbage = frame[frame.device == "board"]
    assert set(garbage.failure_kind) == {"infra"}
    assert garbage.reason.str.contains("no numbers here").all()
    assert set(frame[frame.device == "host"].status) == {"ok"}
    assert_kept_and_resumable(tmp_path / "run")


def test_a_refused_push_fails_the_attempt_naming_the_file_and_free_space(
    tmp_path: Path, adb_server: AdbServer, virtual_devices: list[VirtualDevice]
) -> None:
    full, fine = virtual_devices
    warm = tmp_path / "warm"  # an earlier run left the runner there: the pre-flight pushes nothing
    warm.mkdir()
    run_lab(warm, phone(adb_server, full, "full"), "kws_dscnn_fp32")
    full.fail_next_push("No space left on device")  # the model's push, in the first cell
    frame = run_lab(
        tmp_path, phone(adb_server, full, "full") | phone(adb_server, fine, "fine"), KWS
    )
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

    frame = run_lab(
        tmp_path,
        phone(adb_server, virtual_devices[0]) | host(tmp_path),
        "mobilenet_v2_int8",
        on_result=kill_server,
    )
    cells = frame[frame.device == "phone"].sort_values("started_at")
    assert list(cells.status) == ["ok", "failed"]
    assert cells.iloc[1].failure_kind == "infra" and "adb" in cells.iloc[1].reason
    assert set(frame[frame.device == "host"].status) == {"ok"}
    assert len(read_journal(tmp_path / "run" / "journal.jsonl")) == len(frame)


def test_a_phone_that_vanishes_mid_cell_fails_that_cell_as_infra(
    tmp_path: Path, adb_server: AdbServer, virtual_devices: list[VirtualDevice]
) -> None:
    gone, stays = virtual_devices
    started = threading.Event()

    def unplug_during_the_next_cell(result: CellResult) -> None:
        if result.device == "gone" and not started.is_set():
            started.set()
            threading.Timer(0.5, gone.go_offline).start()

    frame = run_lab(
        tmp_path,
        phone(adb_server, gone, "gone") | phone(adb_server, stays, "stays"),
        "mobilenet_v2_fp32",
        runs=1500,
        on_result=unplug_during_the_next_cell,
    )
    cells = frame[frame.device == "gone"].sort_values("started_at")
    assert cells.iloc[0].status == "ok" and cells.iloc[1].failure_kind == "infra"
    assert set(frame[frame.device == "stays"].status) == {"ok"}
    assert_kept_and_resumable(tmp_path / "run")


def test_a_device_whose_python_has_no_tflite_runtime_fails_before_its_first_cell(
    tmp_path: Path,
) -> None:
    python = tmp_path / "python-without-site"  # a board's bare Python: no numpy, no LiteRT
    python.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -S "$@"\n')
    python.chmod(0o755)
    bare = {"transport": "local", "python": python, "delegates": ["cpu", "xnnpack"]}
    bare |= {"threads": [1], "workdir": tmp_path / "bare-work"}
    frame = run_lab(tmp_path, {"bare": bare} | host(tmp_path), KWS)
    code, probe = farm("devices", "-d", tmp_path / "devices.yaml", "--probe")  # a line a device

    assert code == 0 and "none: no TFLite runtime" in probe
    cells = frame[frame.device == "bare"]
    assert len(cells) == 2 and set(cells.failure_kind) == {"infra"}
    assert cells.reason.str.startswith("pre-flight: no TFLite runtime imports on bare").all()
    assert cells.reason.str.contains("No module named 'ai_edge_litert'").all()
    assert cells.wall_s.isna().all()  # no cell was started
    assert set(frame[frame.device == "host"].status) == {"ok"}
    assert_kept_and_resumable(tmp_path / "run")


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
        (
            Device("host", "local", ("cpu",), options=DeviceOptions(python="/opt/py38")),
            {"cpu"},
            True,
        ),
        (Device("board", "ssh", ("cpu",)), {"cpu"}, True),
        (Device("phone", "adb", ("cpu",), runner="benchmark_model"), {"cpu"}, False),
    ],
)
def test_the_pre_flight_asks_the_runner_unless_it_is_the_farms_own_interpreter(
    device: Device, delegates: set[str], asked: bool
) -> None:
    assert runner_probe_needed(device, delegates) is asked


# --- moved here from the modules of their parts, and the faults no case covered yet -----------


def ssh_board(sshd: LoopbackSshd) -> Devices:
    return {"board": sshd.entry(threads=[1, 2, 3])}


def test_sshd_dying_mid_run_fails_the_rest_of_that_device_as_infra(
    sshd: LoopbackSshd, tmp_path: Path
) -> None:
    def kill_after_first_board_cell(result: CellResult) -> None:
        if result.device == "board":
            sshd.kill_all()

    frame = run_lab(
        tmp_path,
        ssh_board(sshd) | host(tmp_path),
        "mobilenet_v2_int8",
        on_result=kill_after_first_board_cell,
    )
    board = frame[frame.device == "board"].sort_values("started_at")
    assert list(board.status) == ["ok", "failed", "failed", "failed", "failed", "failed"]
    assert set(board.failure_kind.dropna()) == {"infra"}
    assert board.reason.dropna().str.contains("cannot reach 127.0.0.1 over ssh").all()
    # Each infra failure is retried once; after two failed cells the device is quarantined.
    assert list(board.attempt) == [1, 2, 2, 1, 1, 1]
    assert board.reason.iloc[3:].str.startswith("quarantined after 2 infra failures").all()
    assert set(frame[frame.device == "host"].status) == {"ok"}
    assert_kept_and_resumable(tmp_path / "run")


@pytest.mark.parametrize("content", [b"\x00garbage" * 50, b""], ids=["corrupt", "zero-byte"])
def test_a_corrupt_or_empty_model_fails_its_cells_and_the_others_still_run(
    host_lab: Path, model_folder: Path, tmp_path: Path, content: bytes
) -> None:
    (model_folder / "broken.tflite").write_bytes(content)
    run_dir = tmp_path / "run"
    code, _ = farm("run", "-d", host_lab, "-m", model_folder, "--run-dir", run_dir, *FAST)
    frame = pd.read_parquet(run_dir / "results.parquet")
    assert code == 1
    broken = frame[frame.model == "broken"]
    assert set(broken.status) == {"failed"} and set(broken.failure_kind) == {"model"}
    assert broken.reason.str.contains("Flatbuffer|flatbuffer|model|empty", regex=True).all()
    assert set(frame[frame.model != "broken"].status) == {"ok"}
    assert_kept_and_resumable(run_dir)


def test_a_model_needing_a_missing_custom_op_fails_with_the_ops_name(
    host_lab: Path, tmp_path: Path
) -> None:
    folder = model_folder_with(tmp_path, "kws_dscnn_int8", folder="custom")
    shutil.copyfile(DATA / "custom_op.tflite", folder / "custom_op.tflite")
    run_dir = tmp_path / "run"
    code, _ = farm("run", "-d", host_lab, "-m", folder, "--run-dir", run_dir, *FAST)
    frame = pd.read_parquet(run_dir / "results.parquet")
    custom = frame[frame.model == "custom_op"]
    assert code == 1 and set(custom.failure_kind) == {"model"}
    assert custom.reason.str.contains("FarmTestCustomOp").all()
    assert set(frame[frame.model != "custom_op"].status) == {"ok"}
    assert_kept_and_resumable(run_dir)


def test_a_missing_delegate_library_names_the_devices_yaml_key(tmp_path: Path) -> None:
    entry = {"transport": "local", "delegates": ["cpu", "external"], "threads": [1]}
    entry |= {
        "external_delegate": {"path": tmp_path / "absent.so"},
        "workdir": tmp_path / "host-work",
    }
    frame = run_lab(tmp_path, {"host": entry}, KWS).set_index("delegate")
    assert frame.loc["external"].status == "failed"
    assert "devices.host.external_delegate.path" in frame.loc["external"].reason
    assert frame.loc["cpu"].status == "ok"
    assert_kept_and_resumable(tmp_path / "run")


@pytest.mark.parametrize(
    ("devices_yaml", "message"),
    [
        (
            "devices:\n  host: {transport: local, delegats: [cpu]}",
            "devices.host.delegats: unknown key (did you mean 'delegates'?)",
        ),
        ("devices:\n  host: {transport: local, delegates: [tpu]}", "devices.host.delegates.0"),
        ("devices:\n  host: [transport: local", "devices.yaml"),  # not even YAML
    ],
)
def test_invalid_devices_yaml_exits_2_with_one_line(
    tmp_path: Path, devices_yaml: str, message: str
) -> None:
    path = tmp_path / "devices.yaml"
    path.write_text(devices_yaml)
    code, output = farm("run", "--devices", path, "--models", MODELS, "--run-dir", tmp_path / "r")
    assert code == 2 and output.count("\n") == 1
    assert message in output and str(path) in output
    assert not (tmp_path / "r").exists()


# --- the orchestrator itself: signals, the journal, the run folder's disk -------------------


def start_run(host_lab: Path, run_dir: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-c", "from farm.cli import main; main()", "run"]
    argv += ["--devices", str(host_lab), "--models", str(MODELS), "--run-dir", str(run_dir)]
    argv += ["--runs", "400", "--seed", "7", "--retries", "0", "--lock-timeout", "30"]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def journal_rows(run_dir: Path) -> int:
    path = run_dir / "journal.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_sigkill_loses_no_finished_cell_and_resume_runs_only_the_rest(
    host_lab: Path, tmp_path: Path
) -> None:
    """Also the stale lock: the killed run leaves its device lock behind; --resume, on the same
    host, sees its process is dead and takes the lock over at once."""
    run_dir = tmp_path / "run"
    process = start_run(host_lab, run_dir)
    wait_for(lambda: journal_rows(run_dir) >= 3, "three finished cells", timeout_s=120)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert (tmp_path / "host-work" / ".farm-lock" / "owner").exists()  # left behind
    lines = (run_dir / "journal.jsonl").read_text().splitlines()
    before = started_at(run_dir)
    assert all(json.loads(line) for line in lines) and 3 <= len(before) < CELLS
    after = assert_kept_and_resumable(run_dir)
    assert len(after) == CELLS
    frame = pd.read_parquet(run_dir / "results.parquet")
    assert len(frame) == CELLS and set(frame.status) == {"ok"}
    settings = json.loads((run_dir / "run.json").read_text())["settings"]
    assert (settings["retries"], settings["lock_timeout_s"]) == (0, 30)  # resumed as given


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigint_or_sigterm_writes_what_it_has_and_exits_130_or_143(
    host_lab: Path, tmp_path: Path, signum: signal.Signals, code: int
) -> None:
    run_dir = tmp_path / "run"
    process = start_run(host_lab, run_dir)
    wait_for(lambda: journal_rows(run_dir) >= 2, "two finished cells", timeout_s=120)
    process.send_signal(signum)
    assert process.wait(timeout=120) == code
    assert process.stderr is not None and b"interrupted" in process.stderr.read()
    frame = pd.read_parquet(run_dir / "results.parquet")
    assert 2 <= len(frame) < CELLS and set(frame.status) == {"ok"}
    assert (run_dir / "dashboard.html").exists()
    assert len(assert_kept_and_resumable(run_dir)) == CELLS


def test_resume_of_a_folder_that_is_no_run_exits_2(tmp_path: Path) -> None:
    code, output = farm("run", "--resume", tmp_path)
    assert code == 2 and "plan.json" in output
    assert not os.listdir(tmp_path)


def test_a_device_another_live_run_holds_is_waited_for_then_fails_naming_the_holder(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The other run is alive (this process): its lock is not stale, so the run says whom it
    waits for, gives up at --lock-timeout, and the device's cells fail as infra."""
    target = LocalTarget("host", str(tmp_path / "host-work"))
    caplog.set_level(logging.WARNING, logger="farm")
    with DeviceLock(target, "run-a"):
        frame = run_lab(tmp_path, host(tmp_path), KWS, lock_timeout_s=1.0)
    assert set(frame.failure_kind) == {"infra"}
    assert frame.reason.str.startswith("host: device busy: locked by run=run-a").all()
    assert "waiting for the device lock held by run=run-a" in caplog.text
    after = assert_kept_and_resumable(tmp_path / "run")
    assert len(after) == len(frame)  # nothing was missing: the failed cells keep their rows


def test_a_torn_last_journal_line_is_run_again_and_no_other_cell(
    host_lab: Path, model_folder: Path, tmp_path: Path
) -> None:
    """The process died while writing a row: that cell has no row, so --resume runs it (and
    writes its row on a line of its own, not glued to the fragment)."""
    run_dir = tmp_path / "run"
    assert farm("run", "-d", host_lab, "-m", model_folder, "--run-dir", run_dir, *FAST)[0] == 0
    journal = run_dir / "journal.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    rows = {row.key for row in read_journal(journal)}
    torn = json.loads(lines[-1])
    torn_key = (torn["device"], torn["model"], torn["delegate"], torn["threads"])
    others = [line for line in lines if key_of(json.loads(line)) != torn_key]
    journal.write_text("".join(others) + lines[-1][: len(lines[-1]) // 2])
    (run_dir / "results.parquet").unlink()  # it died before writing the results
    assert set(started_at(run_dir)) == rows - {torn_key}
    after = assert_kept_and_resumable(run_dir)
    assert set(after) == rows and after[torn_key] != torn["started_at"]  # run again, once


def key_of(row: dict[str, Any]) -> Key:
    return (row["device"], row["model"], row["delegate"], row["threads"])


def test_a_full_disk_under_the_run_folder_stops_the_run_and_resume_finishes_it(
    host_lab: Path, model_folder: Path, tmp_path: Path
) -> None:
    """Another process fills the disk after the first finished cell: the run stops with one
    error naming the folder and the fix, keeps what it journaled, and resumes once freed."""
    disk = tmp_path / "disk"
    with tmpfs(disk, "size=64m"):
        filler = disk / "filler"

        def fill_the_disk(result: CellResult) -> None:
            if not filler.exists():
                with open(filler, "wb") as out, contextlib.suppress(OSError):
                    while True:
                        out.write(bytes(2**20))

        run_dir = disk / "run"
        with pytest.raises(RunDirFull) as stopped:
            run_lab(tmp_path, host_lab, model_folder, run_dir=run_dir, on_result=fill_the_disk)
        assert f"no space left on the disk of {run_dir}" in str(stopped.value)
        assert f"farm run --resume {run_dir}" in str(stopped.value)
        before = started_at(run_dir)
        assert 1 <= len(before) < 4  # the cells that finished before the disk filled
        filler.unlink()
        after = assert_kept_and_resumable(run_dir)
        frame = pd.read_parquet(run_dir / "results.parquet")
        assert len(after) == len(frame) == 4 and set(frame.status) == {"ok"}


def test_a_probe_that_reaches_no_device_exits_1(tmp_path: Path) -> None:
    port = free_port()  # no adb server listens there
    gone = phone_entry(f"127.0.0.1:{free_port()}", port, delegates=["cpu"])
    write_devices(tmp_path / "devices.yaml", {"gone": gone})
    code, output = farm("devices", "-d", tmp_path / "devices.yaml", "--probe")
    assert code == 1, output
    assert output.strip().endswith("farm devices --probe: no device answered")


def test_a_pre_flight_failure_is_told_once_per_device(tmp_path: Path) -> None:
    python = tmp_path / "python-without-site"
    python.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -S "$@"\n')
    python.chmod(0o755)
    bare = {"transport": "local", "python": python, "delegates": ["cpu", "xnnpack"]}
    bare |= {"threads": [1, 2], "workdir": tmp_path / "w"}
    write_devices(tmp_path / "devices.yaml", {"bare": bare})
    models = model_folder_with(tmp_path, "kws_dscnn_int8")
    argv = ["run", "-d", tmp_path / "devices.yaml", "-m", models, "--run-dir", tmp_path / "run"]
    code, output = farm(*argv, "--runs", "3")
    told = [line for line in output.splitlines() if "no TFLite runtime imports on bare" in line]
    assert code == 1 and len(told) == 1, output
    assert told[0].startswith("failed (infra) bare, 4 cells: pre-flight: ")
