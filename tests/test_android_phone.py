"""The farm on virtual phones with Android's own userland: mksh as /system/bin/sh, every tool
an applet of Debian's real toybox, no Python. Every command the farm sends a phone must be one
a real phone understands, and a phone's cells run with the native runner, benchmark_model.

What cannot run here is a per-cell reason, the other cells finish: a phone with no runner
available, a binary for the wrong ABI, a binary on a noexec mount, a crashing binary.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shlex
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from farm.errors import TargetTimeout
from farm.runners.benchmark_model import (
    InputFile,
    build_benchmark_model_argv,
    parse_benchmark_model_output,
)
from farm.sim.adb_server import AdbServer
from farm.sim.device import VirtualDevice
from farm.targets.adb import WRAPPER, AdbTarget
from farm.targets.lock import RECORD_SCRIPT, DeviceLock
from farm.targets.space import free_mb
from farm.targets.staging import remote_sha256

from .lab import (
    KWS,
    MODELS,
    Devices,
    LoopbackSshd,
    farm,
    phone_entry,
    phones_on,
    run_lab,
    tmpfs,
)
from .native.programs import (
    CRASHING,
    HOST_ABI,
    build_program,
    foreign_binary,
    real_benchmark_model,
)

pytestmark = pytest.mark.lab
HOST: Devices = {"host": {"transport": "local", "delegates": ["cpu"], "threads": [1]}}
# What a shell or toybox prints for a command or an option it does not have.
NOT_UNDERSTOOD = re.compile(
    r"inaccessible or not found|not found|Unknown option|unrecognized option|invalid option|"
    r"illegal option|[Uu]sage: |bad substitution|syntax error"
)


@pytest.fixture
def phone(tmp_path: Path, adb_server: AdbServer) -> Iterator[VirtualDevice]:
    """One virtual Pixel 8 with Android's userland (the default profile)."""
    with phones_on(adb_server, tmp_path, "pixel8", 1) as (device,):
        yield device


@pytest.fixture
def one_pid_space_phone(tmp_path: Path, adb_server: AdbServer) -> Iterator[VirtualDevice]:
    """The same phone unconfined: its commands share one pid space, as a real phone's do (a
    confined phone gives each command its own pid namespace, where a recorded pid means
    nothing to the next command)."""
    with phones_on(adb_server, tmp_path, "pixel8", 1, confined=False) as (device,):
        yield device


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user cache with no benchmark_model in it (the farm honours XDG_CACHE_HOME)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "tflite-farm" / "benchmark_model"


def entry(device: VirtualDevice, server: AdbServer, **keys: Any) -> Devices:
    return {"phone": phone_entry(device.serial, server.port, delegates=["cpu", "xnnpack"], **keys)}


def assert_host_finished(frame: pd.DataFrame) -> None:
    host = frame[frame.device == "host"]
    assert list(host.status) == ["ok"], host.reason.tolist()


def test_adb_shows_androids_userland(adb_server: AdbServer, phone: VirtualDevice) -> None:
    shown = adb_server.adb_command(
        "-s", phone.serial, "shell", "echo $0; toybox --version; which python3"
    )
    shell, toybox, *python = shown.stdout.splitlines()
    assert (shell, toybox.split()[0], python) == ("/system/bin/sh", "toybox", [])


def test_the_farms_device_commands_all_run_on_toybox(
    tmp_path: Path, adb_server: AdbServer, phone: VirtualDevice
) -> None:
    """A whole run on the phone (lock, pre-flight, telemetry, staging, the runner) and the
    probe: the phone understood every command it was sent."""
    binary = build_program(CRASHING, tmp_path)
    frame = run_lab(tmp_path, entry(phone, adb_server, benchmark_model=binary) | HOST, KWS)
    assert_host_finished(frame)
    commands = [record.command for record in phone.shell_log]
    misunderstood = [
        (record.command, record.output.decode(errors="replace"))
        for record in phone.shell_log
        if NOT_UNDERSTOOD.search(record.output.decode(errors="replace"))
    ]
    assert misunderstood == []
    programs = {_program(command) for command in commands}
    assert {"mkdir", "sh", "sha256sum", "chmod", "df", "rm"} <= programs
    assert any(program.startswith("/data/local/tmp/farm/bin/") for program in programs)


def _program(command: str) -> str:
    """The program a farm command runs, under its `timeout ... sh -c WRAPPER sh` (adbutils
    appends its own `; echo X4EXIT:$?`)."""
    words = shlex.split(command.rsplit("; echo X4EXIT", 1)[0])
    if WRAPPER in words:
        words = words[words.index(WRAPPER) + 2 :]
    if RECORD_SCRIPT in words:  # a runner, its pid recorded in the lock
        words = words[words.index(RECORD_SCRIPT) + 3 :]
    return words[0] if words else ""


def test_what_toybox_prints_is_read_right(adb_server: AdbServer, phone: VirtualDevice) -> None:
    target = AdbTarget("phone", phone.serial, port=adb_server.port)
    blob = b"model bytes\n" * 1000
    (phone.root / "data/local/tmp/blob").write_bytes(blob)
    assert remote_sha256(target, "/data/local/tmp/blob") == hashlib.sha256(blob).hexdigest()
    assert remote_sha256(target, "/data/local/tmp/absent") is None
    target.run(["mkdir", "-p", target.workdir], timeout_s=30)
    free = free_mb(target, target.workdir)  # toybox df -Pk: Available in the fourth column
    assert free is not None and free > 0
    with DeviceLock(target, "run-a") as lock:
        holder, age = lock._holder()  # toybox stat -c %Y, mksh arithmetic
        assert holder.startswith("run=run-a ") and age is not None and 0 <= age < 60
        # Each confined command has its own pid namespace: the pid recorded there names
        # another process here (seen: the stop script itself); it is left alone.
        target.run(["sh", "-c", f"echo 2 > {lock.path}/runner"], timeout_s=30)
        assert lock.stop_runner() is None
    with pytest.raises(TargetTimeout):  # toybox timeout, then the wrapper's KILL
        target.run(["sleep", "5"], timeout_s=1)
    assert not [r for r in phone.shell_log if r.command == "sleep 5"]


def test_the_lock_kills_the_runner_it_recorded_with_toybox(
    adb_server: AdbServer, one_pid_space_phone: VirtualDevice
) -> None:
    target = AdbTarget("phone", one_pid_space_phone.serial, port=adb_server.port)
    target.run(["mkdir", "-p", target.workdir], timeout_s=30)
    with DeviceLock(target, "run-a") as lock:
        assert_the_lock_kills_the_runner_it_recorded(target, lock)


def assert_the_lock_kills_the_runner_it_recorded(target: AdbTarget, lock: DeviceLock) -> None:
    """mksh writes the runner's pid; toybox's cat, grep and kill find and stop it."""
    spin = f"{target.workdir}/spin.sh"  # a runner: a command naming the workdir, no child
    target.run(["sh", "-c", f"echo 'while :; do :; done' > {spin}"], timeout_s=30)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(target.run, lock.recorded(["sh", spin]), 60)
        record = f"{lock.path}/runner"
        while not target.run(["cat", record], timeout_s=30).stdout.strip().isdigit():
            time.sleep(0.05)
        pid = target.run(["cat", record], timeout_s=30).stdout.strip()
        assert lock.stop_runner() == pid
        assert running.result(timeout=30).returncode == 137  # 128 + SIGKILL
    assert lock.stop_runner() is None  # nothing runs under that pid any more


def test_fast_commands_keep_their_exit_status_despite_toyboxs_timeout(
    adb_server: AdbServer, phone: VirtualDevice
) -> None:
    """toybox 0.8.9's `timeout` reports 127 for many commands that end within a millisecond
    (see farm.targets.adb); the farm's statuses come from its own wrapper."""
    target = AdbTarget("phone", phone.serial, port=adb_server.port)
    statuses = [target.run([tool], timeout_s=30).returncode for tool in ("true", "false") * 25]
    assert statuses == [0, 1] * 25
    missing = target.run(["no-such-tool"], timeout_s=30)
    assert missing.returncode == 127 and "inaccessible or not found" in missing.stdout


def test_a_phone_without_a_benchmark_model_fails_its_cells_at_once_saying_where(
    tmp_path: Path, adb_server: AdbServer, phone: VirtualDevice, empty_cache: Path
) -> None:
    lab = entry(phone, adb_server) | HOST  # no runner: key, no benchmark_model: key
    frame = run_lab(tmp_path, lab, KWS)
    assert_host_finished(frame)
    cells = frame[frame.device == "phone"]
    assert set(cells.failure_kind) == {"infra"} and len(cells) == 2
    reason = cells.reason.iloc[0]
    assert reason.startswith(f"pre-flight: no benchmark_model for ABI {HOST_ABI} of phone")
    assert str(empty_cache / HOST_ABI / "benchmark_model") in reason
    assert "devices.phone.benchmark_model" in reason and "prebuilt" in reason
    code, probe = farm("devices", "-d", tmp_path / "devices.yaml", "--probe", columns=400)
    assert code == 0 and f"none: no benchmark_model for ABI {HOST_ABI}" in probe


def test_a_phone_told_to_use_python_fails_its_cells_saying_what_to_write(
    tmp_path: Path, adb_server: AdbServer, phone: VirtualDevice
) -> None:
    frame = run_lab(tmp_path, entry(phone, adb_server, runner="python") | HOST, KWS)
    assert_host_finished(frame)
    cells = frame[frame.device == "phone"]
    assert set(cells.failure_kind) == {"infra"}
    reason = cells.reason.iloc[0]
    assert reason.startswith("pre-flight: no python3 on phone (")
    assert "inaccessible or not found" in reason  # mksh's own words
    assert "runner: benchmark_model" in reason and "devices.phone.benchmark_model" in reason


def test_a_binary_for_another_abi_is_refused_before_it_is_pushed(
    tmp_path: Path, adb_server: AdbServer, phone: VirtualDevice
) -> None:
    binary = foreign_binary(tmp_path)
    frame = run_lab(tmp_path, entry(phone, adb_server, benchmark_model=binary) | HOST, KWS)
    assert_host_finished(frame)
    reason = frame[frame.device == "phone"].reason.iloc[0]
    assert f"is built for arm64-v8a, but phone is {HOST_ABI}" in reason
    assert phone.bytes_pushed == 0
    code, probe = farm("devices", "-d", tmp_path / "devices.yaml", "--probe", columns=400)
    assert code == 0 and "is built for arm64-v8a" in probe


def test_a_folder_per_abi_gives_the_phone_its_own_build(
    tmp_path: Path, adb_server: AdbServer, phone: VirtualDevice
) -> None:
    folder = tmp_path / "builds"
    (folder / "arm64-v8a").mkdir(parents=True)
    foreign_binary(folder / "arm64-v8a")
    (folder / HOST_ABI).mkdir(exist_ok=True)
    crashing = build_program(CRASHING, folder / HOST_ABI)
    crashing.rename(folder / HOST_ABI / "benchmark_model")
    frame = run_lab(tmp_path, entry(phone, adb_server, benchmark_model=folder) | HOST, KWS)
    cells = frame[frame.device == "phone"]
    # The host-ABI build ran (and crashed as it was built to): the arm64 one was never sent.
    assert cells.reason.str.contains("SIGSEGV").all()
    pushed = {path for command, path, _ in phone.transfers if command == "SEND"}
    assert len([p for p in pushed if "/bin/" in p]) == 1


def test_a_crashing_benchmark_model_fails_its_cells_with_the_signal(
    tmp_path: Path, adb_server: AdbServer, phone: VirtualDevice
) -> None:
    binary = build_program(CRASHING, tmp_path)
    frame = run_lab(tmp_path, entry(phone, adb_server, benchmark_model=binary) | HOST, KWS)
    assert_host_finished(frame)
    cells = frame[frame.device == "phone"]
    assert len(cells) == 2 and set(cells.failure_kind) == {"model"}  # cpu and xnnpack cells
    assert cells.reason.str.startswith("benchmark_model was killed by signal 11 (SIGSEGV)").all()
    assert (cells.attempt == 1).all()  # a crash is not an infra failure: no retry


def noexec_sdcard(phone: VirtualDevice) -> contextlib.AbstractContextManager[Path]:
    """The phone's /sdcard on a real noexec tmpfs, as Android mounts it (needs root)."""
    return tmpfs(phone.root / "storage" / "emulated" / "0", "noexec,size=64m")


def test_a_binary_on_a_noexec_mount_fails_with_the_fix(
    tmp_path: Path, adb_server: AdbServer, phone: VirtualDevice
) -> None:
    binary = build_program(CRASHING, tmp_path)
    with noexec_sdcard(phone):
        phone_on_sdcard = entry(phone, adb_server, benchmark_model=binary, workdir="/sdcard/farm")
        frame = run_lab(tmp_path, phone_on_sdcard | HOST, KWS)
    assert_host_finished(frame)
    reason = frame[frame.device == "phone"].reason.iloc[0]
    assert "could not be started on phone (exit 126" in reason and "Permission denied" in reason
    assert "noexec" in reason and "/data/local/tmp" in reason


# --- the real benchmark_model, where this host has a build of it ---------------------------


def assert_native_cells_ok(cells: pd.DataFrame) -> None:
    assert list(cells.status) == ["ok"] * len(cells), cells.reason.tolist()
    assert (cells.runtime == "benchmark_model").all()
    assert (cells.latency_mean_ms > 0).all() and (cells.init_ms > 0).all()
    # Outputs pulled from the device and held to the reference: the device's cpu cell to the
    # host's, xnnpack to the device's cpu cell.
    assert cells.parity_ok.all() and cells.parity_reference.notna().all(), cells.reason.tolist()
    assert (cells[cells.delegate == "cpu"].parity_reference.str.startswith("host")).all()


def test_the_real_benchmark_model_runs_on_a_virtual_phone(
    tmp_path: Path, adb_server: AdbServer, phone: VirtualDevice
) -> None:
    binary = real_benchmark_model()
    phone_lab = entry(phone, adb_server, benchmark_model=binary) | HOST
    frame = run_lab(tmp_path, phone_lab, "kws_dscnn_fp32")
    assert_host_finished(frame)
    cells = frame[frame.device == "phone"]
    assert_native_cells_ok(cells)
    # "completely executed by the delegate": every node of the model's main subgraph
    xnnpack = cells[cells.delegate == "xnnpack"].iloc[0]
    assert xnnpack.fully_delegated and xnnpack.nodes_delegated == xnnpack.nodes_total > 0
    assert not [r for r in phone.shell_log if NOT_UNDERSTOOD.search(r.output.decode("latin-1"))]


def test_the_real_benchmark_model_runs_an_int8_model_on_an_ssh_board(
    tmp_path: Path, sshd: LoopbackSshd
) -> None:
    """Quantized inputs and outputs, converted on the host; a partial delegation whose node
    counts the tool's log does not give (its one delegate kernel is the one partition)."""
    binary = real_benchmark_model()
    board = sshd.entry(runner="benchmark_model", benchmark_model=str(binary))
    frame = run_lab(tmp_path, {"board": board} | HOST, "kws_dscnn_int8")
    assert_host_finished(frame)
    cells = frame[frame.device == "board"]
    assert_native_cells_ok(cells)
    xnnpack = cells[cells.delegate == "xnnpack"].iloc[0]
    assert (xnnpack.fully_delegated, xnnpack.partitions) == (False, 1)
    assert pd.isna(xnnpack.nodes_delegated)


def test_the_farms_argv_with_input_and_output_files_is_accepted(tmp_path: Path) -> None:
    """What parity needs of the tool: it reads the input files the farm names and writes the
    outputs LiteRT's own builtin kernels give for them."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    binary = real_benchmark_model()
    model = MODELS / "kws_dscnn_fp32.tflite"
    builtin = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interpreter = Interpreter(model_path=str(model), experimental_op_resolver_type=builtin)
    interpreter.allocate_tensors()
    (detail,) = interpreter.get_input_details()
    (out,) = interpreter.get_output_details()
    value = np.random.default_rng(7).uniform(-1, 1, detail["shape"]).astype(detail["dtype"])
    interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    expected = interpreter.get_tensor(out["index"])
    values = tmp_path / "input:0.bin"  # a ':' in the path too
    values.write_bytes(value.tobytes())
    for delegate in ("cpu", "xnnpack"):
        output = tmp_path / f"output-{delegate}.bin"
        argv = build_benchmark_model_argv(
            str(binary),
            str(model),
            delegate=delegate,
            threads=1,
            runs=5,
            warmup=1,
            input_files=[InputFile(detail["name"], tuple(detail["shape"]), str(values))],
            output_file=str(output),
        )
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        parsed = parse_benchmark_model_output(done.stdout + done.stderr)
        assert (done.returncode, parsed.status) == (0, "ok"), done.stdout + done.stderr
        got = np.frombuffer(output.read_bytes(), out["dtype"]).reshape(out["shape"])
        assert np.abs(got - expected).max() < 1e-4, delegate


def test_an_npu_cell_pushes_the_socs_libraries_and_runs_with_their_paths(
    tmp_path: Path, adb_server: AdbServer, phone: VirtualDevice
) -> None:
    """The native npu cell as Google's guide runs it on a Qualcomm phone: the folder of
    LiteRT and vendor libraries pushed by name, LD_LIBRARY_PATH and ADSP_LIBRARY_PATH set to
    it, the SoC in the fingerprint. The lab's tool is TFLite's benchmark_model, which ignores
    --use_npu and runs the CPU: the farm says so (a silent fallback), it never reports ok."""
    libraries = tmp_path / "qualcomm libs"  # a host path with a space, from devices.yaml
    libraries.mkdir()
    for name in ("libLiteRtDispatch_Qualcomm.so", "libQnnHtp.so", "libQnnHtpV75Skel.so"):
        (libraries / name).write_bytes(name.encode() * 100)
    binary = real_benchmark_model()
    keys = {"benchmark_model": binary, "npu_libraries": libraries, "delegates": ["cpu", "npu"]}
    phone_lab = {"phone": phone_entry(phone.serial, adb_server.port, **keys)}
    frame = run_lab(tmp_path, phone_lab, "kws_dscnn_fp32")
    npu = frame[(frame.device == "phone") & (frame.delegate == "npu")].iloc[0]
    assert (npu.status, npu.failure_kind) == ("failed", "fallback"), npu.reason
    assert "TFLite's benchmark_model ignores --use_npu" in npu.reason
    (log,) = (tmp_path / "run" / "raw").glob("phone-*npu*.log")
    assert "Unconsumed cmdline flags: --use_npu=true" in log.read_text()  # the tool's words
    (folder,) = (phone.root / "data/local/tmp/farm/npu").iterdir()
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in libraries.iterdir())
    remote = f"/data/local/tmp/farm/npu/{folder.name}"
    (command,) = [r.command for r in phone.shell_log if "--use_npu=true" in r.command]
    assert f"LD_LIBRARY_PATH={remote}" in command and f"ADSP_LIBRARY_PATH={remote}" in command
    assert f"--dispatch_library_path={remote}" in command
    fingerprint = json.loads(npu.device_fingerprint)
    assert (fingerprint["soc_manufacturer"], fingerprint["soc"]) == ("Google", "Tensor G3")
