"""What a run will do, decided before its first cell: what was asked (RunRequest), the plan
made of it (every cell, in order, and the skipped ones), its id, plan.json (for ``--resume``) and
its provenance."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import platform
import random
import secrets
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import farm
from farm.config import load_devices, load_models
from farm.errors import ConfigError
from farm.matrix import expand, order_cells
from farm.modelinfo import inspect_model
from farm.run_options import check_run_options
from farm.spec import Cell, CellResult, InputSpec, Model, RunSettings, Skip
from farm.store import JOURNAL, read_journal, status_counts

Executor = Literal["local", "ray"]
REPORTS = Path("reports")
PLAN_FILE = "plan.json"


@dataclass(frozen=True)
class RunRequest:
    """What the user asked `farm run` for: where (the lab, the models, the run folder, the
    executor) and the run's settings."""

    devices: Path
    models: Path
    settings: RunSettings = dataclasses.field(default_factory=RunSettings)
    run_dir: Path | None = None
    resume: Path | None = None  # a run directory: redo only its cells without a row
    executor: Executor = "local"
    address: str | None = None  # the Ray head (HOST:PORT) for executor "ray"


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


def plan_run(request: RunRequest) -> RunPlan:
    """Validate the inputs (ConfigError on anything wrong) and decide every cell."""
    check_run_options(request.settings, request.run_dir)
    if request.resume is not None:
        plan = _resumed_plan(request.resume)
        return dataclasses.replace(plan, executor=request.executor, address=request.address)
    asked = request.settings
    devices = load_devices(request.devices)
    models = inspect_models(load_models(request.models))
    seed = asked.seed if asked.seed is not None else random.SystemRandom().randrange(2**31)
    settings = dataclasses.replace(asked, seed=seed)
    cells, skips = expand(devices, models, settings.delegates, settings.threads)
    run_id = new_run_id()
    run_dir = request.run_dir or REPORTS / "runs" / run_id
    ordered = tuple(order_cells(cells, seed, settings.order))
    replay = _replay(request, run_id, settings)
    return RunPlan(
        run_id,
        run_dir,
        ordered,
        tuple(skips),
        settings,
        request=replay,
        executor=request.executor,
        address=request.address,
        models=models,
    )


def _resumed_plan(run_dir: Path) -> RunPlan:
    """The same plan again (same run id, seed, order), less the cells the journal holds."""
    try:
        saved = json.loads((run_dir / PLAN_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(
            str(run_dir / PLAN_FILE),
            "",
            "cannot read the run's plan",
            "pass a run directory written by farm run",
        ) from exc
    replayed = {f.name for f in dataclasses.fields(RunSettings)}
    settings = RunSettings(**{k: v for k, v in saved.items() if k in replayed})  # older: fewer
    request = RunRequest(Path(saved["devices"]), Path(saved["models"]), settings, run_dir=run_dir)
    plan = plan_run(request)
    done = read_journal(run_dir / JOURNAL)
    keys = {row.key for row in done}
    return dataclasses.replace(
        plan,
        run_id=saved["run_id"],
        done=tuple(done),
        cells=tuple(c for c in plan.cells if c.key not in keys),
        skips=tuple(s for s in plan.skips if s.cell.key not in keys),
    )


def _replay(request: RunRequest, run_id: str, settings: RunSettings) -> dict[str, Any]:
    """What `farm run --resume` needs to plan the same cells again (saved as plan.json)."""
    where = {"devices": str(request.devices.resolve()), "models": str(request.models.resolve())}
    return {**where, **dataclasses.asdict(settings), "run_id": run_id}


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
        # each cell's last status, as results.parquet holds it (what `store.last_good_run` reads)
        "statuses": status_counts(result.status for result in results),
    }


def _git_commit() -> str | None:
    try:
        argv = ["git", "rev-parse", "HEAD"]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None
