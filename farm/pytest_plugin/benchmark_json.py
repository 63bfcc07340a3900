"""Device cells in pytest-benchmark's JSON schema, so ``pytest-benchmark compare`` (and
anything else that reads ``--benchmark-json`` files) works on farm runs.

One benchmark per ok cell: ``name`` and ``fullname`` are the cell id, ``group`` the model,
``params`` device / model / delegate / threads (``--group-by param:device`` works), and
``stats`` come from the device's own samples, one invoke per round (``iterations`` 1).
``machine_info`` describes the device, not this host: its name and its fingerprint
(model, SoC, OS build, ABI, ...). A path holding ``{device}`` writes one file per device.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import platform
import statistics
import subprocess
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import farm
from farm.spec import CellResult, RunSettings


def write_benchmark_json(
    path: str | Path, results: Sequence[CellResult], settings: RunSettings, root: Path
) -> list[Path]:
    """Write the ok cells of ``results``; returns the files written."""
    measured = [r for r in results if r.status == "ok" and r.samples_ms]
    template = str(path)
    if "{device}" not in template:
        return [_write(Path(template), measured, settings, root)]
    devices = dict.fromkeys(r.device for r in measured)
    return [
        _write(
            Path(template.format(device=d)), [r for r in measured if r.device == d], settings, root
        )
        for d in devices
    ]


def _write(path: Path, results: list[CellResult], settings: RunSettings, root: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(benchmark_document(results, settings, root), indent=2) + "\n")
    return path


def benchmark_document(
    results: Sequence[CellResult], settings: RunSettings, root: Path
) -> dict[str, Any]:
    """The whole file, as pytest-benchmark's ``--benchmark-json`` writes it."""
    return {
        "machine_info": machine_info(results),
        "commit_info": commit_info(root),
        "benchmarks": [_benchmark(result, settings) for result in results],
        "datetime": dt.datetime.now(dt.timezone.utc).isoformat(),
        "version": f"tflite-farm {farm.__version__}",
    }


def machine_info(results: Sequence[CellResult]) -> dict[str, Any]:
    """The device(s) measured: for one device its fingerprint at the top level (what
    pytest-benchmark warns about when two files differ); always every device under ``devices``."""
    devices = {r.device: json.loads(r.device_fingerprint or "{}") for r in results}
    info: dict[str, Any] = dict(next(iter(devices.values()))) if len(devices) == 1 else {}
    info.update(node=", ".join(devices), devices=devices, farm_host=platform.node())
    return info


def _benchmark(result: CellResult, settings: RunSettings) -> dict[str, Any]:
    params = {
        "device": result.device,
        "model": result.model,
        "delegate": result.delegate,
        "threads": result.threads,
    }
    return {
        "group": result.model,
        "name": result.cell_id,
        "fullname": result.cell_id,
        "params": params,
        "param": result.cell_id,
        "extra_info": {
            "run_id": result.run_id,
            "model_sha256": result.model_sha256,
            "runtime": result.runtime,
            "runtime_version": result.runtime_version,
            "device_fingerprint": json.loads(result.device_fingerprint or "{}"),
            "init_ms": result.init_ms,
            "peak_rss_mb": result.peak_rss_mb,
        },
        "options": {
            "disable_gc": False,
            "timer": "device",
            "min_rounds": settings.runs,
            "max_time": None,
            "min_time": settings.min_seconds,
            "warmup": settings.warmup,
        },
        "stats": benchmark_stats([ms / 1000.0 for ms in result.samples_ms]),
    }


def benchmark_stats(samples_s: Sequence[float]) -> dict[str, Any]:
    """pytest-benchmark's ``stats`` for samples in seconds, computed as its ``Stats`` does:
    quartiles by Wikipedia's methods 2 (even n) and 3 (odd n), Tukey fences at 1.5 IQR,
    sample standard deviation (0 for one sample), ops = rounds / total."""
    data = list(samples_s)
    ordered = sorted(data)
    n, total = len(data), sum(data)
    mean = statistics.mean(data)
    stddev = statistics.stdev(data) if n > 1 else 0.0
    q1, q3 = _quartiles(ordered)
    low, high = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    iqr_outliers = sum(1 for v in data if v < low or v > high)
    stddev_outliers = sum(1 for v in data if v < mean - stddev or v > mean + stddev)
    return {
        "min": ordered[0],
        "max": ordered[-1],
        "mean": mean,
        "stddev": stddev,
        "rounds": n,
        "median": statistics.median(data),
        "iqr": q3 - q1,
        "q1": q1,
        "q3": q3,
        "iqr_outliers": iqr_outliers,
        "stddev_outliers": stddev_outliers,
        "outliers": f"{stddev_outliers};{iqr_outliers}",
        "ld15iqr": ordered[bisect_left(ordered, low)],
        "hd15iqr": ordered[bisect_right(ordered, high) - 1],
        "ops": n / total if total else 0,
        "total": total,
        "data": data,
        "iterations": 1,
    }


def _quartiles(ordered: Sequence[float]) -> tuple[float, float]:
    n = len(ordered)
    if n == 1:
        return ordered[0], ordered[0]
    if n % 2 == 0:
        return statistics.median(ordered[: n // 2]), statistics.median(ordered[n // 2 :])
    k, rest = divmod(n, 4)
    if rest == 1:
        return (
            0.25 * ordered[k - 1] + 0.75 * ordered[k],
            0.75 * ordered[3 * k] + 0.25 * ordered[3 * k + 1],
        )
    return (
        0.75 * ordered[k] + 0.25 * ordered[k + 1],
        0.25 * ordered[3 * k + 1] + 0.75 * ordered[3 * k + 2],
    )


@functools.cache  # one answer per write, whatever the number of per-device files
def commit_info(root: Path) -> dict[str, Any]:
    """The project's git state, with pytest-benchmark's keys (``unversioned`` outside git)."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    return {
        "id": git("rev-parse", "HEAD") or "unversioned",
        "time": git("log", "-1", "--format=%cI") or None,
        "author_time": git("log", "-1", "--format=%aI") or None,
        "dirty": bool(git("status", "--porcelain")),
        "project": root.name,
        "branch": git("rev-parse", "--abbrev-ref", "HEAD") or "(unknown)",
    }
