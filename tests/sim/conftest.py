"""Fixtures for the virtual Android device: a private adb server (Debian's adb on a free port,
temporary HOME, ADB_EMU=0), virtual devices registered with it, the adb CLI and adbutils.

Everything started here is stopped by PID in teardown; the server fixture checks it is gone.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from farm.sim import AdbServer, VirtualDevice

from ..lab import require_tool

AdbCli = Callable[..., "subprocess.CompletedProcess[bytes]"]


def require_lab_tool(name: str) -> str:
    """The tool's path; skip saying what to install, or fail when FARM_REQUIRE_LAB=1."""
    return require_tool(name, f"/usr/bin/{name}")


@pytest.fixture(scope="session")
def adb_server() -> Iterator[AdbServer]:
    """One private adb server for the session (each test gets its own devices). FARM_SIM_ADB
    names another adb binary to test against (e.g. the newer one adbutils bundles)."""
    adb = os.environ.get("FARM_SIM_ADB") or require_lab_tool("adb")
    require_lab_tool("bwrap")  # the virtual phones' shell sandbox
    with pytest.MonkeyPatch.context() as patch:
        # adbutils would otherwise start the adb it bundles if it ever needed a server.
        patch.setenv("ADBUTILS_ADB_PATH", adb)
        server = AdbServer(adb_path=adb).start()
        yield server
        process = server.process
        server.stop()
    assert process is not None and process.poll() is not None, "adb server still running"


@pytest.fixture
def make_device(
    adb_server: AdbServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., VirtualDevice]]:
    """Start a virtual device and `adb connect` it; all are disconnected and stopped after."""
    started: list[VirtualDevice] = []

    def make(profile: str = "pixel8") -> VirtualDevice:
        root = tmp_path_factory.mktemp(profile)
        device = VirtualDevice(profile, root, adb_keys=[adb_server.public_key]).start()
        started.append(device)
        adb_server.connect(device.serial)
        return device

    yield make
    for device in started:
        adb_server.disconnect(device.serial)
        device.stop()


@pytest.fixture
def device(make_device: Callable[..., VirtualDevice]) -> VirtualDevice:
    return make_device()


@pytest.fixture
def adb(adb_server: AdbServer, device: VirtualDevice) -> AdbCli:
    """``adb(*args, input=b"")``: the real adb CLI against ``device`` (bytes out, rc kept)."""

    def run(
        *args: str, input: bytes | None = None, timeout_s: float = 30
    ) -> subprocess.CompletedProcess[bytes]:
        argv = [adb_server.adb_path, "-P", str(adb_server.port), "-s", device.serial, *args]
        return subprocess.run(
            argv,
            input=input,
            stdin=subprocess.DEVNULL if input is None else None,
            capture_output=True,
            env=adb_server.environment(),
            timeout=timeout_s,
            check=False,
        )

    return run


@pytest.fixture
def phone(adb_server: AdbServer, device: VirtualDevice) -> Any:
    """The device as adbutils sees it, through the private server."""
    import adbutils

    assert os.environ.get("ADBUTILS_ADB_PATH") == adb_server.adb_path
    client = adbutils.AdbClient(host="127.0.0.1", port=adb_server.port)
    return client.device(device.serial)
