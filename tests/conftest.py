"""Shared fixtures: the shipped models, a one-device lab on this host, small run settings."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .lab import MODELS, LoopbackSshd


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
