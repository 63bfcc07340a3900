"""The fault table, continued: a cell's runner never outlives the `farm run` that started it,
and Ctrl-C says what it waits for and, the second time, stops it (tests/test_faults.py style:
one case per fault, against a real `farm run` process, real signals and the real lab parts).

| fault                                        | case here                                      |
|----------------------------------------------|------------------------------------------------|
| orchestrator SIGKILLed, runner on the host   | test_sigkill_of_the_farm_kills_its_runner_on.. |
| orchestrator SIGKILLed, runner on a board    | test_sigkill_of_the_farm_kills_its_runner_on.. |
| orchestrator SIGKILLed, runner on a phone    | test_resume_kills_the_runner_a_killed_run_...  |
| Ctrl-C twice                                 | test_a_second_ctrl_c_stops_the_running_cell... |
| Ctrl-C while waiting for another run's lock  | test_ctrl_c_while_waiting_for_a_device_...     |
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from farm.sim.adb_server import AdbServer
from farm.sim.device import VirtualDevice
from farm.targets.local import LocalTarget
from farm.targets.lock import DeviceLock

from .lab import (
    PYTHON_PHONE,
    Devices,
    LoopbackSshd,
    descendants,
    farm,
    model_folder_with,
    phone_entry,
    phones_on,
    wait_for,
    write_devices,
)
from .test_faults import native_board

pytestmark = pytest.mark.lab
# A cell that would run for 1000 s (within its --timeout: a longer --min-seconds is refused).
LONG = ["--min-seconds", "1000", "--timeout", "1200", "--runs", "5", "--warmup", "1", "--seed", "7"]


def start_farm(devices: Path, models: Path, run_dir: Path, stderr: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-c", "from farm.cli import main; main()", "run", "-d", str(devices)]
    argv += ["-m", str(models), "--run-dir", str(run_dir), "--retries", "0", *LONG]
    with stderr.open("wb") as err:
        return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)


def runners(root: int) -> list[int]:
    """The processes below ``root`` running a cell's runner (LONG's argv), wrappers included."""
    return [pid for pid in descendants(root) if "--min-seconds\x001000" in cmdline(pid)]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    except OSError:
        return ""


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for its parent."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def host_cpu(tmp_path: Path) -> Devices:
    host = {"transport": "local", "delegates": ["cpu"], "threads": [1]}
    return {"host": host | {"workdir": tmp_path / "host-work"}}


def write_lab(tmp_path: Path, devices: Devices) -> tuple[Path, Path]:
    path = write_devices(tmp_path / "devices.yaml", devices)
    return path, model_folder_with(tmp_path, "kws_dscnn_int8")


@pytest.mark.parametrize("transport", ["local", "ssh"])
def test_sigkill_of_the_farm_kills_its_runner_on_the_host_and_on_an_ssh_board(
    tmp_path: Path, request: pytest.FixtureRequest, transport: str
) -> None:
    """Nothing runs handlers on SIGKILL: the host's runner goes by its parent-death signal,
    the board's by the EOF its wrapper reads when the farm's end of the session goes."""
    if transport == "ssh":
        sshd: LoopbackSshd = request.getfixturevalue("sshd")
        entry, root = {"board": sshd.entry()}, int(sshd.pid_file.read_text())
    else:
        entry, root = host_cpu(tmp_path), 0
    devices, models = write_lab(tmp_path, entry)
    process = start_farm(devices, models, tmp_path / "run", tmp_path / "stderr")
    watched = root or process.pid
    wait_for(lambda: bool(runners(watched)), "the runner to start", timeout_s=60)
    started = runners(watched)

    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    left = lambda: [pid for pid in started if alive(pid)]  # noqa: E731
    wait_for(lambda: not left(), "no runner left running", timeout_s=15)


def test_resume_kills_the_runner_a_killed_run_left_on_a_phone(
    tmp_path: Path, adb_server: AdbServer
) -> None:
    """The phone keeps the runner when the farm dies (its `timeout` leads a process group of
    its own, which adbd's kill of the shell's group misses); the device lock recorded it, and
    the resume, taking the stale lock over, kills it before it measures, and says so. The
    phone is unconfined: its commands share one pid space, as a real phone's do."""
    with phones_on(adb_server, tmp_path, PYTHON_PHONE, 1, confined=False) as (phone,):
        resume_kills_the_orphan(tmp_path, adb_server, phone)


def resume_kills_the_orphan(tmp_path: Path, adb_server: AdbServer, phone: VirtualDevice) -> None:
    keys = {"runner": "python", "delegates": ["cpu"], "threads": [1]}
    entry = {"phone": phone_entry(phone.serial, adb_server.port, **keys)}
    devices, models = write_lab(tmp_path, entry)
    run_dir = tmp_path / "run"
    process = start_farm(devices, models, run_dir, tmp_path / "stderr")
    record = phone.root / "data/local/tmp/farm/.farm-lock/runner"
    wait_for(lambda: record.exists() and alive(_pid(record)), "the runner's record", 60)
    runner = _pid(record)
    assert "--min-seconds" in cmdline(runner)

    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert alive(runner)  # the orphan this case is about
    plan = json.loads((run_dir / "plan.json").read_text())
    (run_dir / "plan.json").write_text(json.dumps({**plan, "min_seconds": 0}))  # a short resume
    code, output = farm("run", "--resume", run_dir)

    assert code == 0, output
    output = " ".join(output.split())
    assert f"phone: killed the runner (pid {runner}) that the stale lock's run" in output
    assert not alive(runner)
    assert set(pd.read_parquet(run_dir / "results.parquet").status) == {"ok"}


def _pid(record: Path) -> int:
    text = record.read_text().strip()
    return int(text) if text.isdigit() else 0


def test_a_second_ctrl_c_stops_the_running_cell_and_still_writes_what_finished(
    tmp_path: Path,
) -> None:
    """The first Ctrl-C says at once which cell it waits for and for how long; the second
    kills that cell's runner (a shell script and its child here), writes the results, run.json
    and the dashboard of what finished, and prints the exact command that finishes the run."""
    board = native_board(tmp_path, "sleep 1000\n")
    devices, _ = write_lab(tmp_path, board | host_cpu(tmp_path))
    run_dir, stderr = tmp_path / "run", tmp_path / "stderr"
    argv = [sys.executable, "-c", "from farm.cli import main; main()", "run", "-d", str(devices)]
    argv += ["-m", str(tmp_path / "models"), "--run-dir", str(run_dir), "--runs", "5"]
    with stderr.open("wb") as err:
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
    journal = run_dir / "journal.jsonl"
    wait_for(lambda: journal.exists() and "host" in journal.read_text(), "the host's cell", 120)
    sleeping = lambda: [p for p in descendants(process.pid) if "sleep" in cmdline(p)]  # noqa: E731
    wait_for(lambda: bool(sleeping()), "the board's hanging runner", 60)
    hung = descendants(process.pid)  # the script benchmark_model is, and its sleep

    process.send_signal(signal.SIGINT)
    said = "waiting for the running cells (board/kws_dscnn_int8/cpu/t"
    wait_for(lambda: said in said_so_far(stderr), "the first Ctrl-C's message", timeout_s=10)
    at_most = re.search(r"at most (\d+) s \(--timeout\)", said_so_far(stderr))
    assert at_most and 250 < int(at_most[1]) <= 300  # the default --timeout, less its start
    assert "press Ctrl-C again to stop them now" in said_so_far(stderr)
    assert process.poll() is None and all(alive(pid) for pid in hung)  # still measuring
    process.send_signal(signal.SIGINT)

    assert process.wait(timeout=60) == 130
    output = said_so_far(stderr)
    assert f"2 of 3 cells did not run; to finish: farm run --resume {run_dir}" in output
    frame = pd.read_parquet(run_dir / "results.parquet")
    assert list(frame.device) == ["host"] and list(frame.status) == ["ok"]
    assert (run_dir / "run.json").exists() and (run_dir / "dashboard.html").exists()
    assert not any(alive(pid) for pid in hung)


def said_so_far(stderr: Path) -> str:
    return " ".join(stderr.read_text(errors="replace").split())


def test_ctrl_c_while_waiting_for_a_device_another_run_holds_stops_waiting(
    tmp_path: Path,
) -> None:
    """No cell ran, so none keeps a row: the run ends at once instead of waiting out
    --lock-timeout (600 s), and --resume runs its cells."""
    devices, models = write_lab(tmp_path, host_cpu(tmp_path))
    run_dir, stderr = tmp_path / "run", tmp_path / "stderr"
    with DeviceLock(LocalTarget("host", str(tmp_path / "host-work")), "run-a"):
        process = start_farm(devices, models, run_dir, stderr)
        said = "waiting for the device lock held by run=run-a"
        wait_for(lambda: said in said_so_far(stderr), "the wait for the lock", timeout_s=60)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 130
    output = said_so_far(stderr)
    assert f"1 of 1 cells did not run; to finish: farm run --resume {run_dir}" in output
    assert len(pd.read_parquet(run_dir / "results.parquet")) == 0
