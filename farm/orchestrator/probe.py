"""What a device really has, asked of the device itself: runtimes, the Edge TPU runtime, free
space in the workdir, a temperature source, its benchmark_model. Declared delegates that are
absent become skipped cells with the reason, instead of failures; `farm devices --probe` asks
every device of the lab (``probe_lab``)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from farm.config import load_devices
from farm.errors import RunnerError, TargetError
from farm.orchestrator.measure import locate_benchmark_model
from farm.runners.benchmark_model.provision import device_abi
from farm.runners.python import runner_archive
from farm.spec import Device
from farm.targets import Target, connect
from farm.targets.space import free_mb
from farm.targets.staging import StagedFiles
from farm.targets.thermal import THERMAL_ZONES


@dataclass(frozen=True)
class DeviceProbe:
    """The answers of one device; ``absent`` maps a declared delegate to why it cannot run."""

    device: str
    runtimes: dict[str, str] = field(default_factory=dict)
    runtime_errors: dict[str, str] = field(default_factory=dict)  # why each other one did not
    python: str | None = None
    no_python: str | None = None  # the device shell's words when the interpreter is not there
    native: str | None = None  # benchmark_model devices: the binary for its ABI, or why none
    free_mb: float | None = None
    temperature_source: str | None = None
    absent: dict[str, str] = field(default_factory=dict)


def probe_lab(devices_path: Path) -> list[tuple[Device, DeviceProbe | None, str | None]]:
    """Connect to every device and ask what it really has: (device, probe, or why not)."""
    answers: list[tuple[Device, DeviceProbe | None, str | None]] = []
    for device in load_devices(devices_path):
        try:
            target = connect(device)
        except TargetError as exc:
            answers.append((device, None, str(exc)))
            continue
        try:
            answers.append((device, _full_probe(target, device), None))
        except (TargetError, RunnerError) as exc:
            answers.append((device, None, str(exc)))
        finally:
            target.close()
    return answers


def _full_probe(target: Target, device: Device) -> DeviceProbe:
    probe = probe_device(target, device, StagedFiles(target))
    source = temperature_source(target)
    return dataclasses.replace(probe, temperature_source=source, native=_native(target, device))


def _native(target: Target, device: Device) -> str | None:
    """The benchmark_model a device would get (for its ABI), or why it would get none. A
    probe only looks: it downloads no prebuilt benchmark_model."""
    if device.runner != "benchmark_model":
        return None
    description = target.describe()
    try:
        path = locate_benchmark_model(device, description, offline_run=True, run_id=None)
    except RunnerError as exc:
        return f"none: {exc}"
    return f"{path} ({device_abi(description)})"


def probe_device(
    target: Target, device: Device, files: StagedFiles, ask_runner: bool = True
) -> DeviceProbe:
    """Ask the device; a device whose runner cannot answer keeps every delegate (its cells
    then fail with the runner's own reason). ``ask_runner=False`` skips the runner's probe
    (runtimes, Edge TPU): see ``runner_probe_needed``."""
    asked = ask_runner and device.runner == "python"
    facts = _runner_probe(target, device, files) if asked else {}
    answers = facts.get("runtimes", {})
    return DeviceProbe(
        device=device.name,
        runtimes={name: r["version"] for name, r in answers.items() if "version" in r},
        runtime_errors={name: r["error"] for name, r in answers.items() if "error" in r},
        python=facts.get("python"),
        no_python=facts.get("no_python"),
        free_mb=free_mb(target, target.workdir),
        absent=_absent(device, facts),
    )


def runner_probe_needed(device: Device, delegates: Iterable[str]) -> bool:
    """Whether a pre-flight must ask the runner which runtime imports. Not on this host with
    the farm's own interpreter, which has LiteRT as a dependency of the farm (the question
    costs a Python start and a numpy import, 0.1 s), unless an Edge TPU cell is planned."""
    if device.runner != "python":
        return False
    own = device.transport == "local" and device.options.python == "python3"
    return not own or "edgetpu" in delegates


def preflight_problem(
    probe: DeviceProbe, device: Device, workdir: str, needed_mb: float
) -> str | None:
    """Why none of the device's cells can run, found before the first one; None when fine.
    Only what the device answered counts: a probe that could not run blocks nothing."""
    if device.runner == "python" and probe.no_python:
        python = device.options.python
        return (
            f"pre-flight: no {python} on {device.name} ({probe.no_python}); a device without "
            f"Python (every phone) needs runner: benchmark_model (the default on adb) and a "
            f"benchmark_model build for its ABI: devices.{device.name}.benchmark_model in "
            "devices.yaml, or the user cache (see `farm devices --probe`)"
        )
    if device.runner == "python" and probe.runtime_errors and not probe.runtimes:
        errors = "; ".join(probe.runtime_errors.values())
        return f"pre-flight: no TFLite runtime imports on {device.name}: {errors}"
    if probe.free_mb is not None and probe.free_mb < needed_mb:
        return (
            f"pre-flight: {probe.free_mb:.1f} MB free in {workdir} on {device.name}; "
            f"its cells need about {needed_mb:.0f} MB"
        )
    return None


def _runner_probe(target: Target, device: Device, files: StagedFiles) -> dict[str, Any]:
    runner = files.stage(str(runner_archive()), "runner", suffix=".pyz")
    python = device.options.python
    result = target.run([python, runner, "--probe"], timeout_s=120)
    if result.returncode in (126, 127):  # the shell's "not found" / "cannot execute"
        return {"no_python": result.tail()}
    try:
        return dict(json.loads(result.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        return {}


def _absent(device: Device, facts: dict[str, Any]) -> dict[str, str]:
    absent = {}
    edgetpu = facts.get("edgetpu", {})
    if "edgetpu" in device.delegates and "error" in edgetpu:
        absent["edgetpu"] = f"no Edge TPU runtime on {device.name}: {edgetpu['error']}"
    return absent


def temperature_source(target: Target) -> str | None:
    """The first thermal zone file, for `farm devices --probe` (a run reads temperatures
    through farm.targets.thermal)."""
    result = target.run(["sh", "-c", f"ls {THERMAL_ZONES} 2>/dev/null | head -n 1"], 30)
    return result.stdout.strip() or None
