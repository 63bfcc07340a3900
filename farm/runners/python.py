"""Drive the LiteRT Python runner (litert_runner.py): its argv and the meaning of its JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from farm.runners.outcome import RunnerOutcome
from farm.spec import Cell, RunSettings

RUNNER_SCRIPT = Path(__file__).with_name("litert_runner.py")
# What the runner reports and the results keep under the same name.
_METRICS = (
    "runtime",
    "runtime_version",
    "init_ms",
    "first_inference_ms",
    "warmup_ms",
    "peak_rss_mb",
    "nodes_delegated",
    "nodes_total",
    "partitions",
    "fully_delegated",
    "api",
    "accelerator",
    "accelerator_sdk",
    "dispatch_sha256",
    "compile_ms",
)


@dataclass(frozen=True)
class DelegateLibrary:
    """A delegate library on the device (staged path) and its options, for one cell."""

    path: str | None
    options: dict[str, str]


def python_runner_argv(
    cell: Cell,
    script: str,
    model: str,
    out: str,
    settings: RunSettings,
    inputs: str | None = None,
    outputs: str | None = None,
    delegate: DelegateLibrary | None = None,
) -> list[str]:
    """The command that runs one cell on a device that has Python (remote paths)."""
    options = cell.device.options
    argv = [options.get("python", "python3"), script, "--model", model, "--out", out]
    argv += ["--inputs", inputs] if inputs else []
    argv += ["--outputs", outputs] if outputs else []
    if delegate and delegate.path:
        argv += ["--delegate-path", delegate.path]
    for key, value in (delegate.options if delegate else {}).items():
        argv += ["--delegate-option", f"{key}={value}"]
    argv += ["--delegate", cell.delegate, "--threads", str(cell.threads)]
    argv += ["--warmup", str(settings.warmup), "--runs", str(settings.runs)]
    argv += ["--min-seconds", f"{settings.min_seconds:g}", "--seed", str(settings.planned_seed)]
    argv += list(options.get("runner_flags") or [])
    if options.get("cpu_mask"):
        argv = ["taskset", str(options["cpu_mask"]), *argv]
    return with_env(options.get("env") or {}, argv)


def with_env(env: dict[str, str], argv: list[str]) -> list[str]:
    """``env K=V ... argv``: the same on every transport (toybox and busybox have env), and
    quoted like any other argument by the target."""
    return ["env", *(f"{k}={v}" for k, v in env.items()), *argv] if env else argv


def read_runner_output(data: dict[str, Any]) -> RunnerOutcome:
    """Turn the runner's JSON into an outcome; unknown or missing fields become None."""
    status = data.get("status")
    if status not in ("ok", "failed", "skipped"):
        return RunnerOutcome("failed", "infra", f"runner wrote status {status!r}", (), {})
    samples = tuple(float(s) for s in data.get("samples_ms") or ())
    metrics = {key: data.get(key) for key in _METRICS}
    if data.get("cpu_fallback_ops") is not None:
        metrics["cpu_fallback_ops"] = json.dumps(data["cpu_fallback_ops"], sort_keys=True)
    return RunnerOutcome(status, data.get("failure_kind"), data.get("reason"), samples, metrics)
