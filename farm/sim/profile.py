"""Device profiles: what a virtual device says it is (its getprop table and CNXN banner) and
which delegates it can really run.

A virtual device runs its programs on the host's CPU, so only ``cpu`` and ``xnnpack`` are
real; every other delegate is listed in ``unsupported_delegates`` with the reason a skipped cell
shows. The properties also say honestly that the device is virtual (``ro.farm.virtual``), what
CPU really runs the code (``ro.farm.host_machine``) and so which binaries it executes
(``ro.product.cpu.abi`` is the host's ABI, as on an x86_64 emulator image).

``pixel8`` and ``generic_arm64`` have Android's userland (mksh + toybox, no Python);
``linux-python`` is the opt-in Pixel 8 whose shell has the host's tools and a python3.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from farm.sim.userland import ANDROID, LINUX_PYTHON
from farm.spec import MACHINE_ABI

# Advertise only what shell.py and sync.py implement: never sendrecv_v2* (the host then sends
# compressed SND2/RCV2), nor cmd / abb_exec (no such services here).
FEATURES = ("shell_v2", "stat_v2", "ls_v2", "fixed_push_mkdir")
REAL_DELEGATES = ("cpu", "xnnpack")


@dataclass(frozen=True)
class DeviceProfile:
    """One kind of device; ``properties`` is what ``getprop`` answers."""

    name: str
    properties: Mapping[str, str]
    delegates: tuple[str, ...] = REAL_DELEGATES
    unsupported_delegates: Mapping[str, str] = field(default_factory=dict)
    features: tuple[str, ...] = FEATURES
    userland: str = ANDROID

    def banner(self) -> bytes:
        """The CNXN payload: ``device::`` (the state) then product fields and features.

        `adb devices -l` shows these as product:/model:/device: (spaces become underscores).
        """
        keys = ("ro.product.name", "ro.product.model", "ro.product.device")
        fields = [f"{key}={self.properties[key]}" for key in keys]
        return f"device::{';'.join(fields)};features={','.join(self.features)}".encode()


def _profile(name: str, properties: dict[str, str], userland: str = ANDROID) -> DeviceProfile:
    unsupported = {
        "gpu": f"virtual device {name} has no GPU",
        "nnapi": f"virtual device {name} has no NNAPI accelerator",
        "hexagon": f"virtual device {name} has no Hexagon DSP",
        "edgetpu": f"virtual device {name} has no Edge TPU",
    }
    machine = platform.machine()
    abi = MACHINE_ABI.get(machine, machine)
    honest = {
        "ro.farm.virtual": "1",
        "ro.farm.host_machine": machine,
        "ro.farm.userland": userland,
        "ro.product.cpu.abi": abi,
        "ro.product.cpu.abilist": abi,
    }
    honest.update({f"ro.farm.unsupported.{d}": reason for d, reason in unsupported.items()})
    return DeviceProfile(
        name=name,
        properties=MappingProxyType({**properties, **honest}),
        unsupported_delegates=MappingProxyType(unsupported),
        userland=userland,
    )


_COMMON = {
    "ro.build.version.sdk": "34",
    "ro.build.version.release": "14",
    "ro.build.type": "user",
    "ro.build.tags": "release-keys",
    "ro.debuggable": "0",
    "ro.secure": "1",
    "sys.boot_completed": "1",
    "persist.sys.timezone": "Etc/UTC",
}

_PIXEL8 = {
    **_COMMON,
    "ro.product.manufacturer": "Google",
    "ro.product.brand": "google",
    "ro.product.model": "Pixel 8",
    "ro.product.name": "shiba",
    "ro.product.device": "shiba",
    "ro.product.board": "shiba",
    "ro.hardware": "shiba",
    "ro.board.platform": "zuma",
    "ro.soc.manufacturer": "Google",
    "ro.soc.model": "Tensor G3",
    "ro.hardware.egl": "mali",
    "ro.build.id": "AP2A.240805.005",
    "ro.build.version.security_patch": "2024-08-05",
    "ro.build.fingerprint": "google/shiba/shiba:14/AP2A.240805.005/12025142:user/release-keys",
}
PIXEL8 = _profile("pixel8", _PIXEL8)

_GENERIC = {
    **_COMMON,
    "ro.build.type": "userdebug",
    "ro.build.tags": "test-keys",
    "ro.debuggable": "1",
    "ro.product.manufacturer": "tflite-farm",
    "ro.product.brand": "generic",
    "ro.product.model": "Generic ARM64",
    "ro.product.name": "generic_arm64",
    "ro.product.device": "generic_arm64",
    "ro.product.board": "generic",
    "ro.hardware": "generic",
    "ro.board.platform": "generic",
    "ro.soc.manufacturer": "generic",
    "ro.soc.model": "generic",
    "ro.build.id": "FARM.SIM.1",
    "ro.build.version.security_patch": "2024-08-05",
    "ro.build.fingerprint": (
        "generic/generic_arm64/generic_arm64:14/FARM.SIM.1/1:userdebug/test-keys"
    ),
}
GENERIC_ARM64 = _profile("generic_arm64", _GENERIC)
# A Pixel 8's identity over the host's tools and python3: the Python runner's virtual phone.
LINUX_PYTHON_PROFILE = _profile("linux-python", _PIXEL8, LINUX_PYTHON)

PROFILES: Mapping[str, DeviceProfile] = MappingProxyType(
    {p.name: p for p in (PIXEL8, GENERIC_ARM64, LINUX_PYTHON_PROFILE)}
)


def get_profile(name: str) -> DeviceProfile:
    """The profile called ``name``; KeyError naming the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown device profile {name!r} (known: {', '.join(PROFILES)})") from None
