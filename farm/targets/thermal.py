"""Device temperature and CPU frequency, read the same way on Linux boards and Android."""

from __future__ import annotations

from farm.errors import TargetError
from farm.targets.base import Target

# Millidegrees Celsius, one zone per file; the hottest zone is what throttles the CPU.
THERMAL_ZONES = "/sys/class/thermal/thermal_zone*/temp"
ZONES = f"cat {THERMAL_ZONES} 2>/dev/null"
# Android often hides the zones from the shell user; the battery reports tenths of a degree.
BATTERY = "dumpsys battery 2>/dev/null | grep -m1 ' temperature:'"
# kHz per core; the fastest core is the one a single-threaded cell usually runs on.
FREQUENCIES = "cat /sys/devices/system/cpu/cpu*/cpufreq/scaling_cur_freq 2>/dev/null"


def read_temperature_c(target: Target) -> float | None:
    """The hottest thermal zone in °C (else the battery's), or None when there is neither."""
    zones = [v / 1000.0 for v in _integers(target, ZONES) if v > 0]
    if zones:
        return max(zones)
    battery = _integers(target, BATTERY)
    return battery[0] / 10.0 if battery else None


def read_cpu_freq_mhz(target: Target) -> float | None:
    """The highest current CPU frequency in MHz, or None when cpufreq is not exposed."""
    values = [v / 1000.0 for v in _integers(target, FREQUENCIES) if v > 0]
    return max(values) if values else None


def _integers(target: Target, script: str) -> list[int]:
    try:
        result = target.run(["sh", "-c", script], timeout_s=30)
    except TargetError:
        return []
    words = result.stdout.replace(":", " ").split()
    return [int(word) for word in words if word.lstrip("-").isdigit()]
