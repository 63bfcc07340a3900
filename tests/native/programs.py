"""Real programs for the native-runner tests: small C programs the tests compile, and the real
`benchmark_model` where this host has a build of it.

No `benchmark_model` ships with the project: it is built from the TFLite sources (CMake target
``benchmark_model``) or downloaded as an official prebuilt binary, and put where the farm looks
for it (farm.runners.benchmark_model.provision: the user cache, per ABI). Tests that need it
skip with that reason where it is absent, even in CI: no CI machine can build it (the sources
are not reachable from there).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from farm.runners.benchmark_model.provision import BINARY, cache_root
from farm.spec import MACHINE_ABI

from ..lab import require_tool

SOURCES = Path(__file__).resolve().parent
CRASHING = SOURCES / "crashing_benchmark_model.c"
HOST_ABI = MACHINE_ABI.get(platform.machine(), platform.machine())
# ELF e_machine of a 64-bit Arm binary: a copy of a host program patched to it is refused by
# this host's kernel ("Exec format error"), as an arm64 build is by an x86_64 emulator.
EM_AARCH64 = 183


def build_program(source: Path, out_dir: Path) -> Path:
    """``source`` compiled into ``out_dir/<stem>``, warnings as errors."""
    compiler = require_tool("cc")
    program = out_dir / source.stem
    command = [compiler, "-O1", "-Wall", "-Werror", "-o", str(program), str(source)]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return program


def foreign_binary(out_dir: Path) -> Path:
    """A real host executable whose ELF header says it is built for arm64-v8a."""
    binary = out_dir / BINARY
    shutil.copyfile("/bin/true", binary)
    with binary.open("r+b") as file:
        file.seek(18)
        file.write(EM_AARCH64.to_bytes(2, "little"))
    binary.chmod(0o755)
    return binary


def real_benchmark_model() -> Path:
    """This host's build of TFLite's benchmark_model (``$FARM_BENCHMARK_MODEL`` or the user
    cache's, for the host's ABI); skip saying where to put one when there is none."""
    named = os.environ.get("FARM_BENCHMARK_MODEL")
    path = Path(named) if named else cache_root() / HOST_ABI / BINARY
    if path.is_file() and os.access(path, os.X_OK):
        return path
    pytest.skip(
        f"no benchmark_model build for {HOST_ABI} at {path}: build TFLite's CMake target "
        "benchmark_model (or take an official prebuilt binary) and put it there"
    )
