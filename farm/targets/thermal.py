"""Device temperature from the kernel's thermal zones (Linux boards and Android alike)."""

from __future__ import annotations

from farm.errors import TargetError
from farm.targets.base import Target

# Millidegrees Celsius, one zone per file; the hottest zone is what throttles the CPU.
ZONES = "cat /sys/class/thermal/thermal_zone*/temp 2>/dev/null"


def read_temperature_c(target: Target) -> float | None:
    """The hottest thermal zone in °C, or None when the device reports none."""
    try:
        result = target.run(["sh", "-c", ZONES], timeout_s=30)
    except TargetError:
        return None
    values = [int(v) for v in result.stdout.split() if v.lstrip("-").isdigit()]
    readings = [v / 1000.0 for v in values if v > 0]
    return max(readings) if readings else None
