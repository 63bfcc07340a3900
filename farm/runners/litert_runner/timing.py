"""Timing one cell: first inference, warm-up, every timed sample, and the process's peak RSS."""

from __future__ import annotations

import argparse
import resource
import sys
import time


def timed(invoke: object) -> float:
    start = time.perf_counter_ns()
    invoke()
    return (time.perf_counter_ns() - start) / 1e6


def measure(invoke: object, args: argparse.Namespace) -> dict:
    """First inference, warm-up and timed samples (ms). Runs >= --runs and >= --min-seconds."""
    first_ms = timed(invoke)
    warmup = [timed(invoke) for _ in range(max(args.warmup - 1, 0))]
    samples = []
    deadline = time.perf_counter() + args.min_seconds
    while len(samples) < args.runs or time.perf_counter() < deadline:
        samples.append(timed(invoke))
    return {
        "first_inference_ms": first_ms,
        "warmup_ms": sum(warmup) / len(warmup) if warmup else None,
        "samples_ms": samples,
    }


def peak_rss_mb() -> float | None:
    """Peak resident set of this process (VmHWM), which holds one cell: Python, runtime, model."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0
