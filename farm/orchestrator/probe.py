"""What a device really has, asked of the device itself: runtimes, the Edge TPU runtime, free
space in the workdir, a temperature source. Declared delegates that are absent become skipped
cells with the reason, instead of failures."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from farm.orchestrator.measure import CellMeasurer
from farm.runners.python import runner_archive
from farm.spec import Device
from farm.targets import Target
from farm.targets.space import free_mb
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


def probe_device(
    target: Target, device: Device, measurer: CellMeasurer, ask_runner: bool = True
) -> DeviceProbe:
    """Ask the device; a device whose runner cannot answer keeps every delegate (its cells
    then fail with the runner's own reason). ``ask_runner=False`` skips the runner's probe
    (runtimes, Edge TPU): see ``runner_probe_needed``."""
    asked = ask_runner and device.runner == "python"
    facts = _runner_probe(target, device, measurer) if asked else {}
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
    own = device.transport == "local" and device.options.get("python", "python3") == "python3"
    return not own or "edgetpu" in delegates


def preflight_problem(
    probe: DeviceProbe, device: Device, workdir: str, needed_mb: float
) -> str | None:
    """Why none of the device's cells can run, found before the first one; None when fine.
    Only what the device answered counts: a probe that could not run blocks nothing."""
    if device.runner == "python" and probe.no_python:
        python = device.options.get("python", "python3")
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


def _runner_probe(target: Target, device: Device, measurer: CellMeasurer) -> dict[str, Any]:
    runner = measurer.stage(str(runner_archive()), "runner", suffix=".pyz")
    python = device.options.get("python", "python3")
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
