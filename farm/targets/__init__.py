"""Reach one device: run commands, move files, describe it. One module per transport."""

from __future__ import annotations

import os
from pathlib import Path

from farm.errors import ConfigError
from farm.spec import Device
from farm.targets.base import CommandResult, Target

__all__ = ["CommandResult", "Target", "connect", "default_local_workdir"]


def connect(device: Device) -> Target:
    """Open the transport devices.yaml names for ``device`` (the library is imported here)."""
    if device.transport == "local":
        from farm.targets.local import LocalTarget

        workdir = device.workdir or default_local_workdir(device.name)
        return LocalTarget(device.name, workdir, device.options.get("python", "python3"))
    if device.transport == "adb":
        from farm.targets.adb import AdbTarget

        options = device.options
        return AdbTarget(
            device.name,
            options["serial"],
            options.get("adb_host", "127.0.0.1"),
            options.get("adb_port", 5037),
            device.workdir,
        )
    if device.transport == "ssh":
        from farm.targets.ssh import SshTarget

        o = device.options
        return SshTarget(
            device.name,
            o["host"],
            port=o.get("port", 22),
            user=o.get("user"),
            identity_file=o.get("identity_file"),
            known_hosts=o.get("known_hosts"),
            check_host_key=o.get("check_host_key", True),
            workdir=device.workdir,
            python=o.get("python", "python3"),
        )
    raise ConfigError(
        "devices.yaml",
        f"devices.{device.name}.transport",
        f"transport {device.transport!r} is not supported by this farm yet",
        "use transport: local",
    )


def default_local_workdir(device_name: str) -> str:
    """Where a local device keeps staged runner and models between runs (a cache)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(cache) / "tflite-farm" / device_name)
