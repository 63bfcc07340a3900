"""Drive the LiteRT Python runner (the litert_runner package): the one file pushed to a device
(a zipapp built from the package), its argv and the meaning of its JSON."""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from farm.runners.outcome import RunnerOutcome
from farm.spec import Cell, RunSettings

RUNNER_PACKAGE = Path(__file__).with_name("litert_runner")
# The zipapp's entry point: the package's modules import each other relatively, so this is the
# only file that names the package as a top-level one.
_ZIP_MAIN = "import sys\n\nfrom litert_runner.main import main\n\nsys.exit(main())\n"
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


@functools.cache
def runner_archive() -> Path:
    """The runner as one file, ``python3 runner.pyz ARGS`` (Python >= 3.8 runs a zipapp from its
    path). Built once per process from the package's sources; the bytes depend on the sources
    only, so the sha-cached push skips a device that has the same runner already."""
    data = _zipapp_bytes()
    name = f"tflite-farm-runner-{hashlib.sha256(data).hexdigest()[:16]}.pyz"
    path = Path(tempfile.gettempdir()) / name
    if not path.exists():  # written whole under its own name, then renamed: two devices'
        # threads (functools.cache lets both in on the first call) or farms never read half
        handle, partial = tempfile.mkstemp(prefix=f".{name}.", dir=path.parent)
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(partial, 0o644)  # as write_bytes made it (mkstemp's is 0600)
        os.replace(partial, path)
    return path


def _zipapp_bytes() -> bytes:
    """zipapp's layout (shebang, then a zip with __main__.py) with a fixed date on every entry:
    zipapp.create_archive stamps each file's mtime, which a checkout changes."""
    buffer = io.BytesIO()
    buffer.write(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("__main__.py", (1980, 1, 1, 0, 0, 0)), _ZIP_MAIN)
        for source in sorted(RUNNER_PACKAGE.glob("*.py")):
            entry = zipfile.ZipInfo(f"litert_runner/{source.name}", (1980, 1, 1, 0, 0, 0))
            archive.writestr(entry, source.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


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
    argv = [options.python, script, "--model", model, "--out", out]
    argv += ["--inputs", inputs] if inputs else []
    argv += ["--outputs", outputs] if outputs else []
    if delegate and delegate.path:
        argv += ["--delegate-path", delegate.path]
    for key, value in (delegate.options if delegate else {}).items():
        argv += ["--delegate-option", f"{key}={value}"]
    argv += ["--delegate", cell.delegate, "--threads", str(cell.threads)]
    argv += ["--warmup", str(settings.warmup), "--runs", str(settings.runs)]
    argv += ["--min-seconds", f"{settings.min_seconds:g}", "--seed", str(settings.seed)]
    argv += options.runner_flags
    if options.cpu_mask:
        argv = ["taskset", options.cpu_mask, *argv]
    return with_env(options.env, argv)


def with_env(env: Mapping[str, str], argv: list[str]) -> list[str]:
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
