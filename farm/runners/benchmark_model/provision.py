"""Which ``benchmark_model`` binary a device gets: the one built for its ABI.

devices.yaml's ``benchmark_model:`` names a file (used as it is, after an ABI check of its ELF
header) or a folder laid out per ABI, as the NDK names them::

    runners/benchmark_model/arm64-v8a/benchmark_model
    runners/benchmark_model/armeabi-v7a/benchmark_model
    runners/benchmark_model/x86_64/benchmark_model

Then the user's cache, ``~/.cache/tflite-farm/benchmark_model/<abi>/benchmark_model``
(``$XDG_CACHE_HOME`` is honoured; a build placed by hand), and ``<platform>/benchmark_model``
there (Google's prebuilt binary for the device's platform, fetched by `prebuilt`), so one
download serves every devices.yaml.
The device's ABI is ``ro.product.cpu.abi`` on Android, ``uname -m`` on a Linux board.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from farm.errors import RunnerError
from farm.spec import MACHINE_ABI

BINARY = "benchmark_model"
# Where the official prebuilt binaries (Android and Linux, per ABI) are documented.
PREBUILT_DOCS = (
    "https://ai.google.dev/edge/litert/models/measurement "
    "(tensorflow/lite/tools/benchmark/README.md: nightly prebuilt binaries per ABI)"
)
# (ELF class, e_machine) → ABI: EM_AARCH64 183, EM_ARM 40, EM_X86_64 62, EM_386 3.
ELF_ABI = {(2, 183): "arm64-v8a", (1, 40): "armeabi-v7a", (2, 62): "x86_64", (1, 3): "x86"}


def cache_root() -> Path:
    """The user cache folder searched for ``<abi>/benchmark_model``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tflite-farm" / BINARY


def device_abi(description: Mapping[str, Any] | None) -> str | None:
    """The device's ABI from its description (``abi``, ``machine`` or ``uname``), or None."""
    if not description:
        return None
    if description.get("abi"):
        return str(description["abi"])
    uname = str(description.get("uname") or "").split()  # "Linux 6.1.0 aarch64"
    machine = description.get("machine") or (uname[-1] if uname else None)
    return MACHINE_ABI.get(str(machine)) if machine else None


def elf_abi(path: Path) -> str | None:
    """The ABI an ELF file is built for; None for a file that is not ELF (a script)."""
    with path.open("rb") as file:
        header = file.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    machine = int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")
    return ELF_ABI.get((header[4], machine), f"ELF machine {machine}")


def find_benchmark_model(
    device: str,
    configured: str | None,
    abi: str | None,
    cache: Path | None = None,
    platform: str | None = None,
) -> Path:
    """The binary for ``device``; RunnerError saying the ABI, where it looked and the fix.
    ``platform``: the device's published prebuilt platform (``android_aarch64``), if any."""
    key = f"devices.{device}.benchmark_model"
    if configured and not Path(configured).exists():
        raise RunnerError(
            f"benchmark_model binary {configured} does not exist on this host ({key})"
        )
    if configured and Path(configured).is_file():
        return _checked(Path(configured), abi, device, key)
    places = [Path(configured) / (abi or "<abi>") / BINARY] if configured else []
    places.append((cache or cache_root()) / (abi or "<abi>") / BINARY)
    if platform:
        places.append((cache or cache_root()) / platform / BINARY)
    for place in places:
        if abi and place.is_file():
            return _checked(place, abi, device, key)
    which = f"ABI {abi}" if abi else "an unknown ABI (the device did not say)"
    where = "in one of them" if len(places) > 1 else "there"
    raise RunnerError(
        f"no benchmark_model for {which} of {device}: looked for "
        f"{', '.join(str(p) for p in places)}; put {_a(abi)} build {where} or name "
        f"the file with {key} in devices.yaml (prebuilt binaries: {PREBUILT_DOCS}); "
        "virtual phones of `farm sim up --profile linux-python` run the Python runner instead"
    )


def _a(abi: str | None) -> str:
    if not abi:
        return "a"
    return f"an {abi}" if abi[0] in "aeiox" else f"a {abi}"  # an x86_64, an arm64-v8a


def _checked(path: Path, abi: str | None, device: str, key: str) -> Path:
    built_for = elf_abi(path)
    if abi and built_for and built_for != abi:
        raise RunnerError(
            f"benchmark_model {path} is built for {built_for}, but {device} is {abi}: "
            f"point {key} at a {abi} build, or at a folder with {abi}/{BINARY}"
        )
    return path
