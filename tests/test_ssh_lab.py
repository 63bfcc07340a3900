"""Linux boards over SSH, against Debian's real sshd on loopback."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from farm.errors import HostKeyError, TargetTimeout
from farm.targets.ssh import SshTarget

from .lab import DATA, LoopbackSshd, model_folder_with, run_lab, write_devices
from .test_faults import host

pytestmark = pytest.mark.lab


def target(sshd: LoopbackSshd) -> SshTarget:
    return SshTarget(
        "board",
        "127.0.0.1",
        port=sshd.port,
        user=sshd.user,
        identity_file=str(sshd.user_key),
        known_hosts=str(sshd.known_hosts),
        workdir=str(sshd.dir / "board-work"),
        python=sys.executable,
    )


def test_commands_files_and_facts_over_ssh(sshd: LoopbackSshd, tmp_path: Path) -> None:
    board = target(sshd)
    try:
        assert board.run(["echo", "a; b $(x)"], 10).stdout == "a; b $(x)\n"
        assert board.run(["sh", "-c", "exit 3"], 10).returncode == 3
        board.run(["mkdir", "-p", board.workdir], 10)
        (tmp_path / "f").write_bytes(b"\x00\x01 payload")
        board.push(str(tmp_path / "f"), f"{board.workdir}/odd name")
        board.pull(f"{board.workdir}/odd name", str(tmp_path / "back"))
        assert (tmp_path / "back").read_bytes() == b"\x00\x01 payload"
        facts = board.describe()
        assert facts["transport"] == "ssh" and facts["uname"].startswith("Linux")
        assert facts["python"] == f"{sys.version_info.major}.{sys.version_info.minor}." + str(
            sys.version_info.micro
        )
    finally:
        board.close()


def test_a_command_past_its_timeout_is_killed_on_the_board(
    sshd: LoopbackSshd, tmp_path: Path
) -> None:
    board = target(sshd)
    marker = tmp_path / "survived"
    try:
        with pytest.raises(TargetTimeout):
            board.run(["sh", "-c", f"sleep 3 && touch {marker}"], timeout_s=1)
        assert board.run(["sleep", "3"], timeout_s=10).ok
    finally:
        board.close()
    assert not marker.exists()


def test_farm_run_measures_cells_on_the_board(sshd: LoopbackSshd, tmp_path: Path) -> None:
    frame = run_lab(tmp_path, {"board": sshd.entry()}, "mobilenet_v2_int8")
    assert set(frame.status) == {"ok"} and len(frame) == 2
    assert (frame.samples_ms.map(len) >= 5).all()
    assert frame.device_fingerprint.str.contains('"transport": "ssh"').all()
    assert len(list((sshd.dir / "board-work" / "runner").glob("*.pyz"))) == 1


def test_a_changed_host_key_stops_that_device_and_others_finish(
    sshd: LoopbackSshd, tmp_path: Path
) -> None:
    sshd.trust_host_key(sshd.user_key)  # known_hosts now names another key for this host
    models = model_folder_with(tmp_path, "mobilenet_v2_int8", name="m")
    frame = run_lab(tmp_path, {"board": sshd.entry()} | host(tmp_path), models)
    board = frame[frame.device == "board"]
    assert set(board.status) == {"failed"}
    assert board.reason.str.contains("host key of 127.0.0.1 is unknown or changed").all()
    assert set(frame[frame.device == "host"].status) == {"ok"}
    assert not (sshd.dir / "board-work").exists()  # no cell ran


def test_the_host_key_check_raises_a_security_error(sshd: LoopbackSshd) -> None:
    sshd.trust_host_key(sshd.user_key)
    with pytest.raises(HostKeyError):
        target(sshd)


@pytest.mark.parametrize("name", ["x; touch pwned #.tflite", "$(touch pwned).tflite"])
def test_hostile_model_names_are_benchmarked_without_running_anything(
    sshd: LoopbackSshd, tmp_path: Path, name: str
) -> None:
    models = model_folder_with(tmp_path, "mobilenet_v2_int8", name=name.removesuffix(".tflite"))
    frame = run_lab(tmp_path, {"board": sshd.entry()}, models)
    assert set(frame.status) == {"ok"}
    assert set(frame.model) == {name.removesuffix(".tflite")}
    assert not list(tmp_path.rglob("pwned")) and not Path("pwned").exists()
    assert not (Path.home() / "pwned").exists()


def test_an_edgetpu_model_without_the_edgetpu_runtime_is_skipped_with_the_reason(
    sshd: LoopbackSshd, tmp_path: Path
) -> None:
    board = {"board": sshd.entry(delegates=["cpu", "edgetpu"])}
    models = model_folder_with(tmp_path, "mobilenet_v2_int8", name="plain")
    shutil.copyfile(DATA / "edgetpu_stub_edgetpu.tflite", models / "stub_edgetpu.tflite")
    frame = run_lab(tmp_path, board, models).set_index(["model", "delegate"])
    assert frame.loc[("plain", "cpu"), "status"] == "ok"
    compiled = frame.loc[("stub_edgetpu", "edgetpu")]
    assert compiled.status == "skipped"
    assert compiled.reason.startswith("no Edge TPU runtime on board: libedgetpu.so.1")
    assert frame.loc[("stub_edgetpu", "cpu"), "status"] == "skipped"
    assert frame.loc[("plain", "edgetpu"), "status"] == "skipped"
    assert "no Edge TPU runtime on board" in (tmp_path / "run" / "dashboard.html").read_text()


def test_probe_reports_what_the_board_has(sshd: LoopbackSshd, tmp_path: Path) -> None:
    from farm.orchestrator.probe import probe_lab

    board = {"board": sshd.entry(delegates=["cpu", "edgetpu"])}
    devices = write_devices(tmp_path / "devices.yaml", board)
    ((_, probe, error),) = probe_lab(devices)
    assert error is None and probe is not None
    assert "ai_edge_litert" in probe.runtimes and probe.free_mb and probe.free_mb > 0
    assert probe.absent["edgetpu"].startswith("no Edge TPU runtime on board")


def test_a_device_env_reaches_the_runner_word_for_word_over_ssh(
    sshd: LoopbackSshd, tmp_path: Path
) -> None:
    """devices.yaml `env:` (a Vulkan ICD, an NPU's library path) crosses the remote shell as
    data: quotes, spaces, `;` and `$` arrive as written."""
    seen, note = tmp_path / "seen", 'it\'s a; b $HOME "c"'
    python = tmp_path / "python-with-a-witness"
    python.write_text(f'#!/bin/sh\nprintf %s "$FARM_NOTE" > {seen}\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    board = sshd.entry(python=str(python), env={"FARM_NOTE": note})
    frame = run_lab(tmp_path, {"board": board}, "kws_dscnn_int8")
    assert set(frame.status) == {"ok"} and seen.read_text() == note
