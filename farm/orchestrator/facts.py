"""What a worker learns of a device before its first cell: its description (the fingerprint),
whether it reports temperature and CPU frequency, the pre-flight probe and its benchmark_model.

Learned once per run and device. The local executor has one worker per device, which keeps
them for all its cells; a remote executor's worker process measures one cell per task and keeps
them in a ``FactsCache`` across its tasks instead of asking the device again for every cell.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from farm.errors import TargetError
from farm.orchestrator.probe import DeviceProbe
from farm.spec import Device
from farm.targets import Target
from farm.targets.thermal import read_cpu_freq_mhz, read_temperature_c

COOLDOWN_POLL_S = 2.0


@dataclass
class DeviceFacts:
    """``description``: None when the device did not answer. ``probes``: the pre-flight's
    answer with and without the runner's own probe (None: the probe failed). ``native``: its
    benchmark_model (host path, sha256) once found."""

    description: dict[str, Any] | None
    telemetry: Telemetry
    probes: dict[bool, DeviceProbe | None] = field(default_factory=dict)
    native: tuple[str, str] | None = None
    # What the run put on the device: kept with its facts, so that a Ray run's one-cell
    # workers too push each file, and ask the device for its sha256, once a run (sha256 ->
    # its path there; an npu_libraries host folder -> its copy there). A local file staged
    # without a known sha256 (runner, inputs, a delegate .so) is still hashed here per cell.
    staged: dict[str, str] = field(default_factory=dict)
    npu_folders: dict[Path, str] = field(default_factory=dict)

    @classmethod
    def of(cls, target: Target) -> DeviceFacts:
        try:
            description: dict[str, Any] | None = target.describe()
        except TargetError:
            description = None
        return cls(description, Telemetry.of(target))


FactsCache = dict[tuple[str, str], DeviceFacts]  # (run id, device name) -> its facts


class Telemetry:
    """Temperature and CPU frequency around each cell, and the optional cooldown before it,
    for devices that report them (checked once per device, so others pay nothing)."""

    def __init__(self, has_temperature: bool, has_frequency: bool) -> None:
        self.has_temperature, self.has_frequency = has_temperature, has_frequency

    @classmethod
    def of(cls, target: Target) -> Telemetry:
        has_frequency = read_cpu_freq_mhz(target) is not None
        return cls(read_temperature_c(target) is not None, has_frequency)

    def temperature(self, target: Target) -> float | None:
        return read_temperature_c(target) if self.has_temperature else None

    def frequency(self, target: Target) -> float | None:
        return read_cpu_freq_mhz(target) if self.has_frequency else None

    def before_cell(self, target: Target, device: Device) -> float | None:
        """Wait (up to the cooldown's timeout) until the device is below its target."""
        cooldown = device.options.cooldown
        temperature = self.temperature(target)
        if not cooldown or temperature is None:
            return temperature
        deadline = time.monotonic() + cooldown.timeout_s
        while temperature is not None and temperature > cooldown.max_temp_c:
            if time.monotonic() > deadline:
                break
            time.sleep(COOLDOWN_POLL_S)
            temperature = self.temperature(target)
        return temperature
