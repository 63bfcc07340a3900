"""Real programs for the native-runner tests: small C programs the tests compile, and the real
`benchmark_model` where the lab has a build of it.

No `benchmark_model` ships with the project: users fetch Google's prebuilt binary (`farm runner
fetch`) or build TFLite's CMake target ``benchmark_model``. The test lab names its build with ONE
variable, ``FARM_BENCHMARK_MODEL``: a binary for this host's ABI, or a folder laid out per ABI
(``<abi>/benchmark_model``) that may hold a ``verbose/`` copy of the same layout, a build that
also prints the delegate's VERBOSE "Replacing N out of M node(s)" lines, as Android builds do.
CI (.ci/run) points it at the lab's shared build (../shared/benchmark_model, see its BUILD.md);
without it the user cache's build for this ABI is used. Tests needing the tool skip where there
is none, and fail under FARM_REQUIRE_LAB=1.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

from farm.runners.benchmark_model.provision import BINARY, cache_root
from farm.spec import MACHINE_ABI

from ..lab import lab_missing, require_tool

SOURCES = Path(__file__).resolve().parent
CRASHING = SOURCES / "crashing_benchmark_model.c"
CRASHING_DELEGATE = SOURCES / "crashing_delegate.c"
HOST_ABI = MACHINE_ABI.get(platform.machine(), platform.machine())
# ELF e_machine of a 64-bit Arm binary: a copy of a host program patched to it is refused by
# this host's kernel ("Exec format error"), as an arm64 build is by an x86_64 emulator.
EM_AARCH64 = 183
# The one variable naming the lab's benchmark_model (a binary, or a folder laid out per ABI).
LAB_VARIABLE = "FARM_BENCHMARK_MODEL"


def build_program(source: Path, out_dir: Path) -> Path:
    """``source`` compiled into ``out_dir/<stem>``, warnings as errors."""
    compiler = require_tool("cc")
    program = out_dir / source.stem
    command = [compiler, "-O1", "-Wall", "-Werror", "-o", str(program), str(source)]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return program


def build_library(source: Path, out_dir: Path) -> Path:
    """``source`` compiled into the shared library ``out_dir/lib<stem>.so``."""
    compiler = require_tool("cc")
    library = out_dir / f"lib{source.stem}.so"
    command = [compiler, "-O1", "-Wall", "-Werror", "-shared", "-fPIC", "-o", str(library)]
    subprocess.run([*command, str(source)], check=True, capture_output=True, text=True)
    return library


def foreign_binary(out_dir: Path) -> Path:
    """A real host executable whose ELF header says it is built for arm64-v8a."""
    binary = out_dir / BINARY
    shutil.copyfile("/bin/true", binary)
    with binary.open("r+b") as file:
        file.seek(18)
        file.write(EM_AARCH64.to_bytes(2, "little"))
    binary.chmod(0o755)
    return binary


def real_benchmark_model(verbose: bool = False) -> Path:
    """The lab's build of TFLite's benchmark_model for this host's ABI (``$FARM_BENCHMARK_MODEL``,
    else the user cache's); ``verbose``: the copy that prints the delegate's VERBOSE lines.
    Skip (fail under FARM_REQUIRE_LAB=1) saying where to put one when there is none."""
    path = lab_build_path(verbose)
    if path.is_file() and os.access(path, os.X_OK):
        return path
    which = "verbose build (VERBOSE log lines on)" if verbose else "build"
    lab_missing(
        f"no benchmark_model {which} for {HOST_ABI} at {path}: set {LAB_VARIABLE} to the lab's "
        "build folder (../shared/benchmark_model, see its BUILD.md), or run `farm runner fetch`"
    )


def lab_build_path(verbose: bool = False) -> Path:
    """Where the lab's build should be: ``$FARM_BENCHMARK_MODEL`` (a binary, or a folder laid
    out per ABI), else the user cache; a verbose copy is in ``<folder>/verbose/<abi>/``."""
    named = Path(os.environ.get(LAB_VARIABLE) or cache_root())
    if named.is_file() and not verbose:
        return named
    folder = named.parent.parent if named.is_file() else named  # <folder>/<abi>/benchmark_model
    return (folder / "verbose" if verbose else folder) / HOST_ABI / BINARY
