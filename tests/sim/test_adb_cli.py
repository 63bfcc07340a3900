"""The virtual device through Debian's real adb CLI, as a user at a terminal would drive it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from farm.sim import AdbServer, VirtualDevice

from .conftest import AdbCli

pytestmark = pytest.mark.lab


def test_adb_lists_the_device_with_its_model(adb_server: AdbServer, device: VirtualDevice) -> None:
    listing = adb_server.adb_command("devices", "-l").stdout
    line = next(line for line in listing.splitlines() if line.startswith(device.serial))
    assert line.split()[1] == "device"
    assert "product:shiba" in line and "model:Pixel_8" in line and "device:shiba" in line


def test_shell_echo(adb: AdbCli) -> None:
    result = adb("shell", "echo", "hello from the virtual device")
    assert (result.returncode, result.stdout) == (0, b"hello from the virtual device\n")


def test_shell_v2_keeps_stderr_apart_and_returns_the_exit_code(adb: AdbCli) -> None:
    result = adb("shell", "echo out; echo err >&2; exit 7")
    assert (result.returncode, result.stdout, result.stderr) == (7, b"out\n", b"err\n")


def test_shell_v2_passes_stdin_and_closes_it(adb: AdbCli) -> None:
    result = adb("shell", "wc -c", input=b"x" * 100_000)
    assert result.stdout.strip() == b"100000"


def test_getprop_answers_from_the_profile(adb: AdbCli) -> None:
    assert adb("shell", "getprop ro.product.model").stdout == b"Pixel 8\n"
    assert adb("shell", "getprop ro.soc.model").stdout == b"Tensor G3\n"
    assert adb("shell", "getprop no.such.property").stdout == b"\n"
    listing = adb("shell", "getprop").stdout.decode()
    assert "[ro.board.platform]: [zuma]" in listing.splitlines()


def test_push_pull_ls_round_trip(adb: AdbCli, device: VirtualDevice, tmp_path: Path) -> None:
    payload = os.urandom(1_500_000)
    (tmp_path / "model.tflite").write_bytes(payload)
    remote = "/data/local/tmp/farm/models/model.tflite"  # parents do not exist yet
    pushed = adb("push", str(tmp_path / "model.tflite"), remote)
    assert pushed.returncode == 0, pushed.stderr
    pulled = adb("pull", remote, str(tmp_path / "back.tflite"))
    assert pulled.returncode == 0, pulled.stderr
    assert (tmp_path / "back.tflite").read_bytes() == payload
    listing = adb("ls", "/data/local/tmp/farm/models").stdout.decode()
    # adb ls prints mode, size and mtime in hex, then the name.
    entries = {line.split()[3]: line.split()[1] for line in listing.splitlines()}
    assert entries == {
        ".": entries["."],
        "..": entries[".."],
        "model.tflite": f"{len(payload):08x}",
    }
    assert (device.root / "data/local/tmp/farm/models/model.tflite").read_bytes() == payload
    assert device.transfers == [("SEND", remote, len(payload)), ("RECV", remote, len(payload))]


def test_shell_sees_pushed_files_at_their_device_paths(adb: AdbCli, tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hi\n")
    assert adb("push", str(tmp_path / "hello.txt"), "/sdcard/hello.txt").returncode == 0
    result = adb("shell", "cat /sdcard/hello.txt && sha256sum /sdcard/hello.txt")
    assert result.stdout.startswith(b"hi\n")
    assert b"98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4" in result.stdout


def test_exec_out_is_a_raw_byte_stream(adb: AdbCli) -> None:
    result = adb("exec-out", "printf '\\000\\001\\377\\n'")
    assert result.stdout == b"\x00\x01\xff\n"


def test_a_failed_push_shows_the_device_message(
    adb: AdbCli, device: VirtualDevice, tmp_path: Path
) -> None:
    (tmp_path / "big.bin").write_bytes(b"x" * 200_000)
    device.fail_next_push("No space left on device (injected)")
    result = adb("push", str(tmp_path / "big.bin"), "/data/local/tmp/big.bin")
    assert result.returncode != 0
    assert b"No space left on device (injected)" in result.stdout + result.stderr
    assert not (device.root / "data/local/tmp/big.bin").exists()
    assert adb("push", str(tmp_path / "big.bin"), "/data/local/tmp/big.bin").returncode == 0


def test_pull_of_a_missing_file_fails(adb: AdbCli, tmp_path: Path) -> None:
    result = adb("pull", "/data/local/tmp/nothing", str(tmp_path / "nothing"))
    assert result.returncode != 0
    # adb 29 prints its errors on stdout.
    assert b"No such file or directory" in result.stdout + result.stderr


def test_an_interactive_shell_reads_commands_from_stdin(adb: AdbCli) -> None:
    result = adb("shell", input=b"echo piped\nexit 4\n")
    assert (result.returncode, result.stdout) == (4, b"piped\n")
