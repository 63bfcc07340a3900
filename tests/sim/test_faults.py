"""Fault hooks, seen from adb and adbutils the way a farm run would see a misbehaving phone."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import adbutils
import pytest

from farm.sim import AdbServer, VirtualDevice

from ..lab import wait_for
from .conftest import AdbCli

pytestmark = pytest.mark.lab


def test_a_dropped_connection_fails_the_running_command_then_adb_reconnects(
    phone: Any, device: VirtualDevice, adb_server: AdbServer
) -> None:
    failures: list[Exception] = []

    def long_command() -> None:
        try:
            phone.shell2("touch /data/local/tmp/started; sleep 30", timeout=30)
        except adbutils.AdbError as exc:
            failures.append(exc)

    worker = threading.Thread(target=long_command)
    worker.start()
    wait_for((device.root / "data/local/tmp/started").exists, "the command to start", 10)
    device.drop_connections()
    worker.join(10)
    assert not worker.is_alive() and failures  # no exit marker: adbutils says output invalid
    wait_for(lambda: adb_server.state(device.serial) == "device", "adb to reconnect", 15)
    assert phone.shell("echo back") == "back"


def test_a_device_gone_offline_is_reported_offline_and_spares_the_others(
    phone: Any,
    device: VirtualDevice,
    adb_server: AdbServer,
    adb: AdbCli,
    make_device: Callable[..., VirtualDevice],
) -> None:
    other = make_device()
    device.go_offline_after(1)
    assert phone.shell("echo last") == "last"
    with pytest.raises(adbutils.AdbError):
        phone.shell2("echo never")
    wait_for(lambda: adb_server.state(device.serial) == "offline", "adb to list it offline", 10)
    with pytest.raises(adbutils.AdbError, match="offline"):
        phone.shell("echo never")
    result = adb("shell", "echo never")
    assert result.returncode != 0 and b"offline" in result.stdout + result.stderr
    still_here = adb_server.adb_command("-s", other.serial, "shell", "echo still here")
    assert still_here.stdout == "still here\n"
    device.come_back()
    adb_server.connect(device.serial)
    assert phone.shell("echo back") == "back"


def test_a_stalled_device_times_out_then_answers(phone: Any, device: VirtualDevice) -> None:
    device.stall(1.5)
    connection = phone.open_transport(timeout=0.5)
    connection.send_command("shell:echo late")
    with pytest.raises(adbutils.AdbTimeout):  # the device does not even answer the OPEN
        connection.check_okay()
    connection.close()
    assert phone.shell("echo after the stall", timeout=15) == "after the stall"


def test_an_unknown_service_is_an_error_not_a_hang(phone: Any) -> None:
    with pytest.raises(adbutils.AdbError):
        phone.open_transport("framebuffer:").check_okay()
