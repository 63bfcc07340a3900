"""The virtual device through adbutils, exactly as farm.targets.adb drives a phone."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import adbutils
import pytest

from farm.sim import VirtualDevice
from farm.spec import MACHINE_ABI

pytestmark = pytest.mark.lab


def test_state_shell_and_getprop(phone: Any) -> None:
    assert phone.get_state() == "device"
    assert phone.shell("echo hi; echo there >&2") == "hi\nthere"  # v1: one merged stream
    assert phone.getprop("ro.product.model") == "Pixel 8"
    assert phone.getprop("ro.build.version.sdk") == "34"
    assert phone.getprop("ro.product.cpu.abi") == MACHINE_ABI[platform.machine()]
    assert phone.getprop("ro.farm.virtual") == "1"


def test_shell2_exit_codes_over_v1_and_v2(phone: Any) -> None:
    v1 = phone.shell2("echo a; (exit 3)")  # adbutils appends `; echo X4EXIT:$?`
    assert (v1.returncode, v1.output) == (3, "a\n")
    v2 = phone.shell2("echo out; echo err >&2; exit 5", v2=True)
    assert (v2.returncode, v2.stdout, v2.stderr) == (5, "out\n", "err\n")


def test_sync_push_read_pull_list_stat(phone: Any, device: VirtualDevice, tmp_path: Path) -> None:
    payload = os.urandom(300_000)
    phone.sync.push(payload, "/data/local/tmp/farm/in.bin")  # parents are created
    assert phone.sync.read_bytes("/data/local/tmp/farm/in.bin") == payload
    assert phone.sync.pull("/data/local/tmp/farm/in.bin", tmp_path / "out.bin") == len(payload)
    assert (tmp_path / "out.bin").read_bytes() == payload
    names = {entry.path for entry in phone.sync.list("/data/local/tmp/farm")}
    assert names == {".", "..", "in.bin"}
    info = phone.sync.stat("/data/local/tmp/farm/in.bin")
    assert (info.size, oct(info.mode & 0o777)) == (len(payload), "0o755")
    assert phone.sync.stat("/data/local/tmp/absent").mode == 0  # missing: zeros, not FAIL
    assert device.bytes_pushed == len(payload)
    assert device.bytes_pulled == 2 * len(payload)


def test_a_phone_has_androids_shell_and_tools_and_no_python(phone: Any) -> None:
    reply = phone.shell2("echo $0; toybox --version; ls -l /system/bin/ls; which python3")
    lines = reply.output.splitlines()
    assert lines[0] == "/system/bin/sh" and lines[1].startswith("toybox 0.")
    assert lines[2].endswith("-> /usr/bin/toybox")
    assert reply.returncode == 1 and len(lines) == 3  # `which python3` finds nothing
    assert "KSH_VERSION=@(#)MIRBSD KSH" in phone.shell("echo KSH_VERSION=$KSH_VERSION")


def test_a_runner_on_a_linux_python_device_runs_with_the_hosts_python(
    adb_server: Any, make_device: Callable[..., VirtualDevice]
) -> None:
    device = make_device("linux-python")
    phone = adbutils.AdbClient(host="127.0.0.1", port=adb_server.port).device(device.serial)
    phone.sync.push(b"import numpy, sys\nprint(numpy.__name__, sys.argv[1])\n", "/sdcard/r.py")
    reply = phone.shell2("python3 /sdcard/r.py /data/local/tmp/model.tflite")
    assert reply.returncode == 0
    assert reply.output.startswith("numpy ") and reply.output.endswith(
        "/data/local/tmp/model.tflite\n"
    )


def test_a_failed_push_raises_the_devices_message(phone: Any, device: VirtualDevice) -> None:
    device.fail_next_push("couldn't create file: Read-only file system")
    with pytest.raises(adbutils.AdbError):
        phone.sync.push(b"x" * 50_000, "/data/local/tmp/x.bin")
    assert device.transfers == []
    phone.sync.push(b"x" * 50_000, "/data/local/tmp/x.bin")  # only the next push fails
    assert device.transfers == [("SEND", "/data/local/tmp/x.bin", 50_000)]


def test_reading_a_missing_file_fails_with_open_failed(phone: Any) -> None:
    with pytest.raises(adbutils.AdbError, match="open failed: No such file or directory"):
        phone.sync.read_bytes("/data/local/tmp/missing.json")
