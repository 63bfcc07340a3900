"""Shared fixtures: the shipped models, a one-device lab on this host, small run settings."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from farm.sim.adb_server import AdbServer
    from farm.sim.device import VirtualDevice

from .lab import MODELS, PYTHON_PHONE, LoopbackSshd, require_tool

# The Ray executor's tests need the optional extra; `tox -e ray` installs it and runs them.
collect_ignore = [] if importlib.util.find_spec("ray") else ["test_ray.py"]


@pytest.fixture
def host_lab(tmp_path: Path) -> Path:
    """devices.yaml with this host as the only device; its cache stays inside the test."""
    path = tmp_path / "devices.yaml"
    path.write_text(
        "devices:\n"
        "  host:\n"
        "    transport: local\n"
        "    delegates: [cpu, xnnpack]\n"
        "    threads: [1]\n"
        f"    workdir: {tmp_path / 'host-work'}\n"
    )
    return path


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    """A bare folder (no manifest) with two of the shipped models: bring-your-own-models."""
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("mobilenet_v2_int8", "kws_dscnn_fp32"):
        src = MODELS / f"{name}.tflite"
        shutil.copyfile(src, folder / src.name)
    return folder


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[LoopbackSshd]:
    """A real sshd on loopback, with its own keys and known_hosts."""
    server = LoopbackSshd(tmp_path / "sshd")
    server.dir.mkdir()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def adb_server(tmp_path: Path) -> Iterator[AdbServer]:
    """Debian's adb server on a free port, its own HOME, no emulator scan; killed after."""
    from farm.sim.adb_server import AdbServer

    server = AdbServer(adb_path=require_tool("adb", "/usr/bin/adb"), home=tmp_path / "adb-home")
    server.home.mkdir()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def virtual_devices(tmp_path: Path, adb_server: AdbServer) -> Iterator[list[VirtualDevice]]:
    """Two virtual phones with a python3 (the Python runner's), connected to the private adb
    server (index them as needed)."""
    from farm.sim.device import VirtualDevice

    devices = [VirtualDevice(PYTHON_PHONE, tmp_path / f"device{i}").start() for i in range(2)]
    try:
        for device in devices:
            adb_server.connect(device.serial)
        yield devices
    finally:
        for device in devices:
            adb_server.disconnect(device.serial)
            device.stop()
