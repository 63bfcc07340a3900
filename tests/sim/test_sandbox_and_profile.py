"""The pieces with no network: path mapping, the getprop script, modes, profiles, the wire."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

from farm.sim.profile import PROFILES, get_profile
from farm.sim.sandbox import Sandbox
from farm.sim.sync import parse_mode
from farm.sim.wire import CNXN, HEADER, Message, pack, unpack_header
from farm.spec import MACHINE_ABI

from .conftest import require_lab_tool


@pytest.fixture
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    require_lab_tool("bwrap")  # the shell's sandbox
    return Sandbox(tmp_path_factory.mktemp("root"), PROFILES["pixel8"].properties)


@pytest.fixture
def unconfined(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    """A sandbox of `farm sim up --insecure`: commands are host processes, paths mapped."""
    root = tmp_path_factory.mktemp("root")
    return Sandbox(root, PROFILES["pixel8"].properties, confined=False)


@pytest.mark.parametrize(
    ("command", "mapped"),
    [
        ("ls /data/local/tmp", "ls {r}/data/local/tmp"),
        ("cat '/sdcard/a b.txt'", "cat '{r}/sdcard/a b.txt'"),
        ("run --model=/data/m.tflite,/storage/x", "run --model={r}/data/m.tflite,{r}/storage/x"),
        ("cd /data&&echo $(ls /sdcard)", "cd {r}/data&&echo $(ls {r}/sdcard)"),
        (
            "ls /database /datax a/data ~/data /systemd /usr/bin",
            "ls /database /datax a/data ~/data /systemd /usr/bin",
        ),
        ("ls /system/bin", "ls {r}/system/bin"),
        ("echo /data", "echo {r}/data"),
    ],
)
def test_device_trees_are_mapped_at_word_starts_only(
    unconfined: Sandbox, command: str, mapped: str
) -> None:
    assert unconfined.command(command) == mapped.format(r=unconfined.root)


def test_sync_paths_stay_inside_the_root(sandbox: Sandbox) -> None:
    assert sandbox.host_path("/data/local/tmp/x") == sandbox.root / "data/local/tmp/x"
    assert sandbox.host_path("/../../etc/passwd") == sandbox.root / "etc/passwd"
    assert sandbox.host_path("/") == sandbox.root
    leaked = f"{sandbox.root}/data/local/tmp/x"  # a host path a command printed
    assert sandbox.host_path(leaked) == Path(leaked)


def test_a_root_the_shell_would_split_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="spliced into shell commands"):
        Sandbox(tmp_path / "with space", {})


def getprop(sandbox: Sandbox, *args: str) -> str:
    tool = sandbox.bin / "getprop"
    return subprocess.run([str(tool), *args], capture_output=True, text=True, check=True).stdout


def test_getprop_behaves_like_androids(sandbox: Sandbox) -> None:
    assert getprop(sandbox, "ro.product.model") == "Pixel 8\n"
    assert getprop(sandbox, "ro.missing") == "\n"
    assert getprop(sandbox, "ro.missing", "fallback") == "fallback\n"
    listing = getprop(sandbox).splitlines()
    assert "[ro.build.version.sdk]: [34]" in listing
    keys = [line[1 : line.index("]")] for line in listing]
    assert keys == sorted(keys)  # sorted by name, as Android lists them


def test_python3_on_a_linux_python_device_is_the_simulators(tmp_path: Path) -> None:
    require_lab_tool("bwrap")
    sandbox = Sandbox(tmp_path, PROFILES["linux-python"].properties, "linux-python")
    argv = sandbox.shell_argv("python3 -c 'import sys; print(sys.prefix)'")
    run = subprocess.run(
        argv, executable=sandbox.shell, env=sandbox.environment(), capture_output=True, text=True
    )
    assert run.stdout.strip() == sys.prefix  # a venv stays a venv (a wrapper, not a symlink)


def test_an_android_device_has_toybox_and_mksh_only(sandbox: Sandbox) -> None:
    argv = sandbox.shell_argv(
        "for t in python3 bash stat; do command -v $t; done; echo $0; stat -c %F /system/bin"
    )
    run = subprocess.run(
        argv, executable=sandbox.shell, env=sandbox.environment(), capture_output=True, text=True
    )
    assert run.stdout.splitlines() == ["/system/bin/stat", "/system/bin/sh", "directory"]
    assert not (sandbox.bin / "python3").exists()


@pytest.mark.parametrize(
    ("text", "mode"), [("0644", 0o644), ("33261", 0o100755), ("0x1ed", 0o755), ("0", 0), ("x", 0)]
)
def test_send_modes_parse_like_strtoul_base_0(text: str, mode: int) -> None:
    assert parse_mode(text) == mode


def test_profiles_say_what_they_cannot_run() -> None:
    pixel8 = get_profile("pixel8")
    assert pixel8.delegates == ("cpu", "xnnpack")
    assert pixel8.unsupported_delegates["gpu"] == "virtual device pixel8 has no GPU"
    assert "nnapi" in pixel8.unsupported_delegates
    props = pixel8.properties
    assert (props["ro.product.manufacturer"], props["ro.board.platform"]) == ("Google", "zuma")
    assert props["ro.build.fingerprint"].startswith("google/shiba/shiba:14/")
    # It runs the host's binaries, so it says the host's ABI (as an x86_64 emulator does).
    abi = MACHINE_ABI[platform.machine()]
    assert get_profile("generic_arm64").properties["ro.product.cpu.abi"] == abi
    assert (pixel8.userland, get_profile("linux-python").userland) == ("android", "linux-python")
    with pytest.raises(KeyError, match="known: pixel8, generic_arm64, linux-python"):
        get_profile("pixel9")


def test_wire_header_round_trip_and_bad_magic() -> None:
    packed = pack(Message(CNXN, 1, 2, b"abc"))
    assert HEADER.unpack(packed[:24])[3:5] == (3, ord("a") + ord("b") + ord("c"))
    assert unpack_header(packed[:24]) == (CNXN, 1, 2, 3)
    with pytest.raises(ConnectionError, match="bad magic"):
        unpack_header(packed[:20] + b"\0\0\0\0")
