"""What a run will do, decided before its first cell: the plan, its id, and its provenance."""

from __future__ import annotations

import dataclasses
import datetime as dt
import platform
import secrets
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import farm
from farm.errors import ConfigError
from farm.modelinfo import inspect_model
from farm.spec import Cell, CellResult, InputSpec, Model, RunSettings, Skip

Executor = Literal["local", "ray"]


@dataclass(frozen=True)
class RunPlan:
    """Everything one `farm run` will do, decided before the first cell starts."""

    run_id: str
    run_dir: Path
    cells: tuple[Cell, ...]
    skips: tuple[Skip, ...]
    settings: RunSettings
    done: tuple[CellResult, ...] = ()  # rows a resumed run already has in its journal
    request: dict[str, Any] = dataclasses.field(default_factory=dict)  # to plan it again
    executor: Executor = "local"  # "ray": cells are tasks on a Ray cluster (farm.cluster)
    address: str | None = None  # the Ray cluster's head, for executor "ray"
    models: tuple[Model, ...] = ()  # every model of the run; a resumed run's cells have fewer

    def all_models(self) -> dict[str, Model]:
        """Every model of the run by name (those of its cells where ``models`` is not set)."""
        return {m.name: m for m in (*self.models, *(cell.model for cell in self.cells))}


def new_run_id(now: dt.datetime | None = None) -> str:
    """Sortable and unique: UTC time to the millisecond (two short runs can start within one
    second, and a nightly finds its baseline by this order), plus a few random hex digits."""
    now = now or dt.datetime.now(dt.timezone.utc)
    stamp = now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z"
    return f"{stamp}-{secrets.token_hex(2)}"


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def inspect_models(models: Sequence[Model]) -> tuple[Model, ...]:
    """Fill in what the flatbuffer says (custom ops, Edge TPU). An unreadable file stays as it
    is: its cells then fail in the runtime, with the runtime's own reason, as `model`."""
    return tuple(_inspected(model) for model in models)


def _inspected(model: Model) -> Model:
    try:
        info = inspect_model(model.path)
    except ConfigError:
        return model
    inputs = tuple(InputSpec(t.name, t.shape, t.dtype, t.quantized) for t in info.inputs)
    return dataclasses.replace(
        model, custom_ops=info.custom_ops, is_edgetpu=info.is_edgetpu, inputs=inputs
    )


def provenance(
    plan: RunPlan,
    results: Sequence[CellResult],
    devices: dict[str, Any],
    started_at: str,
    executor: dict[str, Any],
) -> dict[str, Any]:
    """run.json: what ran, where, with what, so any number can be traced back."""
    runtimes = sorted({f"{r.runtime} {r.runtime_version}" for r in results if r.runtime})
    return {
        "run_id": plan.run_id,
        "farm_version": farm.__version__,
        "git_commit": _git_commit(),
        "host": platform.node(),
        "python": platform.python_version(),
        "started_at": started_at,
        "finished_at": utc_now(),
        "seed": plan.settings.seed,
        "settings": dataclasses.asdict(plan.settings),
        "devices": devices,
        "executor": executor,
        "runtimes": runtimes,
        "cells": len(plan.cells) + len(plan.skips),
    }


def _git_commit() -> str | None:
    try:
        argv = ["git", "rev-parse", "HEAD"]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None
