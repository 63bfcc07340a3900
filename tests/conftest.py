"""Shared fixtures: the shipped models, a one-device lab on this host, small run settings."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from farm.sim.adb_server import AdbServer
from farm.sim.device import VirtualDevice

from .lab import (
    KWS,
    PYTHON_PHONE,
    LoopbackSshd,
    model_folder_with,
    phones_on,
    private_adb_server,
    write_devices,
    write_manifest,
)

# The Ray executor's tests need the optional extra; `tox -e ray` installs it and runs them.
collect_ignore = [] if importlib.util.find_spec("ray") else ["test_ray.py"]


@pytest.fixture
def host_lab(tmp_path: Path) -> Path:
    """devices.yaml with this host as the only device; its cache stays inside the test."""
    host = {"transport": "local", "delegates": ["cpu", "xnnpack"], "threads": [1]}
    host["workdir"] = tmp_path / "host-work"
    return write_devices(tmp_path / "devices.yaml", {"host": host})


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    """A bare folder (no manifest) with two of the shipped models: bring-your-own-models."""
    return model_folder_with(tmp_path, "mobilenet_v2_int8", "kws_dscnn_fp32")


@pytest.fixture
def plugin_lab(pytester: pytest.Pytester) -> Path:
    """For the pytest plugin's pytester runs: devices.yaml (this host: cpu, xnnpack) and
    models/ holding the shipped kws int8 model, with the manifest entry copied from
    models/models.yaml plus a generous latency budget."""
    host = {"transport": "local", "delegates": ["cpu", "xnnpack"], "threads": [1]}
    host["workdir"] = pytester.path / "work"
    write_devices(pytester.path / "devices.yaml", {"host": host})
    write_manifest(model_folder_with(pytester.path, KWS), {KWS: {"default": 10_000.0}})
    return pytester.path


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
    with private_adb_server(tmp_path) as server:
        yield server


@pytest.fixture
def virtual_devices(tmp_path: Path, adb_server: AdbServer) -> Iterator[list[VirtualDevice]]:
    """Two virtual phones with a python3 (the Python runner's), connected to the private adb
    server (index them as needed)."""
    with phones_on(adb_server, tmp_path, PYTHON_PHONE, 2) as phones:
        yield phones
