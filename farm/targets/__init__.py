"""Reach one device: run commands, move files, describe it. One module per transport."""

from __future__ import annotations

import os
from pathlib import Path

from farm.errors import ConfigError
from farm.spec import AdbOptions, Device, SshOptions
from farm.targets.base import CommandResult, Target

__all__ = ["CommandResult", "Target", "connect", "default_local_workdir"]


def connect(device: Device) -> Target:
    """Open the transport devices.yaml names for ``device`` (the library is imported here).

    devices.yaml offers local, adb and ssh (validated at load); a fake device, built in code,
    is handed its FakeTarget instead and never reaches here."""
    options = device.options
    if device.transport == "local":
        from farm.targets.local import LocalTarget

        workdir = device.workdir or default_local_workdir(device.name)
        return LocalTarget(device.name, workdir, options.python)
    if isinstance(options, AdbOptions):
        from farm.targets.adb import AdbTarget

        return AdbTarget(
            device.name, options.serial, options.adb_host, options.adb_port, device.workdir
        )
    if isinstance(options, SshOptions):
        from farm.targets.ssh import SshTarget

        return SshTarget(
            device.name,
            options.host,
            port=options.port,
            user=options.user,
            identity_file=options.identity_file,
            known_hosts=options.known_hosts,
            check_host_key=options.check_host_key,
            workdir=device.workdir,
            python=options.python,
        )
    raise ConfigError(
        "devices.yaml",
        f"devices.{device.name}.transport",
        f"transport {device.transport!r} has no target to open here",
        "use transport: local, adb or ssh (a fake device takes a FakeTarget)",
    )


def default_local_workdir(device_name: str) -> str:
    """Where a local device keeps staged runner and models between runs (a cache)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(cache) / "tflite-farm" / device_name)
