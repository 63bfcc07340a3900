"""After the cells ran: compare each cell's outputs with its reference and its fp32 sibling.

References: a delegate's cell is held to the builtin-CPU (``cpu``) cell of the same device and
model; a device's ``cpu`` cell to the host's ``cpu`` cell of the same model. An fp16 or int8
variant is compared with its fp32 sibling on the same device, delegate and threads (drift):
reported always, gated only where the manifest sets ``drift_tolerance``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from farm.orchestrator.plan import RunPlan
from farm.parity import (
    NON_FINITE,
    NOT_CHECKED,
    Judgement,
    OutputErrors,
    judge,
    make_inputs,
    non_finite,
    save_arrays,
)
from farm.spec import CellResult, Model, Tolerance


def write_inputs(plan: RunPlan) -> dict[str, Path]:
    """One seeded input file per family and input shape (so variants share inputs), keyed by
    model sha256. Models whose inputs are unknown (unreadable files) get none."""
    models = {cell.model.sha256: cell.model for cell in plan.cells}
    folder = plan.run_dir / "inputs"
    files: dict[str, Path] = {}
    for sha256, model in models.items():
        if not model.inputs:
            continue
        key = f"{model.family or model.sha256[:16]}-" + "-".join(
            "x".join(map(str, spec.shape)) for spec in model.inputs
        )
        path = folder / f"{key}.npz"
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            save_arrays(path, make_inputs(model.inputs, plan.settings.planned_seed))
        files[sha256] = path
    return files


def check_parity(
    plan: RunPlan, results: Sequence[CellResult], host_devices: Collection[str]
) -> list[CellResult]:
    """The rows whose parity or drift columns changed (to be journaled again)."""
    models = plan.all_models()
    outputs = _OutputCache(plan.run_dir / "outputs")
    changed = []
    for row in results:
        if row.status != "ok" or outputs.get(row) is None:
            continue
        updated = _with_drift(
            _with_parity(row, results, models, outputs, host_devices), results, models, outputs
        )
        if updated != row:
            changed.append(updated)
    return changed


class _OutputCache:
    """Each cell's outputs, read from disk once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._loaded: dict[str, dict[str, Any] | None] = {}

    def get(self, row: CellResult) -> dict[str, Any] | None:
        if row.cell_id not in self._loaded:
            self._loaded[row.cell_id] = _load(self.folder / f"{row.cell_id}.npz")
        return self._loaded[row.cell_id]

    def of(self, row: CellResult) -> dict[str, Any]:
        """Outputs of a row already known to have them."""
        found = self.get(row)
        if found is None:
            raise KeyError(row.cell_id)
        return found


def _load(path: Path) -> dict[str, Any] | None:
    import numpy as np

    if not path.exists():
        return None
    with np.load(path) as data:
        return {name: data[name] for name in data.files}


def _with_parity(
    row: CellResult,
    results: Sequence[CellResult],
    models: dict[str, Model],
    outputs: _OutputCache,
    hosts: Collection[str],
) -> CellResult:
    reference = _reference(row, results, hosts, outputs)
    if reference is None:
        return row
    row, judged = _held_to(reference, row, models[row.model].tolerance, "parity_", outputs)
    row = dataclasses.replace(
        row,
        parity_ok=None if judged.failure_class == NOT_CHECKED else judged.failure_class is None,
        parity_class=judged.failure_class,
    )
    if judged.failure_class == NOT_CHECKED:
        return _not_checked(row, reference, outputs.of(row), judged.reason or "")
    if judged.reason:
        return _failed_parity(row, f"outputs differ from {reference.cell_id}: {judged.reason}")
    return row


def _held_to(
    reference: CellResult,
    row: CellResult,
    tolerance: Tolerance | None,
    prefix: str,
    outputs: _OutputCache,
) -> tuple[CellResult, Judgement]:
    """Judge the row's outputs against the reference's; its ``prefix`` columns (parity_ or
    drift_) name the reference and how far the outputs are from it."""
    judged = judge(outputs.of(reference), outputs.of(row), tolerance, row.delegate)
    columns = {f"{prefix}reference": reference.cell_id, **_errors(prefix, judged.comparison)}
    return dataclasses.replace(row, **columns), judged


def _errors(prefix: str, comparison: OutputErrors | None) -> dict[str, Any]:
    """The parity_ or drift_ error columns of a comparison (None where none was possible)."""
    return {
        f"{prefix}{name}": None if comparison is None else getattr(comparison, name)
        for name in ("max_abs", "cosine", "topk")
    }


def _not_checked(
    row: CellResult, reference: CellResult, own: dict[str, Any], why: str
) -> CellResult:
    """The reference's outputs are NaN or Inf: nothing to hold this cell to. Its own
    non-finite outputs still fail it (the model's, since the reference kernels agree)."""
    own_broken = non_finite(own)
    if own_broken:
        reason = f"outputs non-finite here and on {reference.cell_id}: {own_broken}"
        failed = dataclasses.replace(row, parity_class=NON_FINITE, parity_ok=False)
        return dataclasses.replace(
            failed, status="failed", failure_kind="model", reason=_joined(row.reason, reason)
        )
    note = f"parity not checked: {why.replace('the reference', reference.cell_id, 1)}"
    return dataclasses.replace(row, reason=_joined(row.reason, note))


def _reference(
    row: CellResult, results: Sequence[CellResult], hosts: Collection[str], outputs: _OutputCache
) -> CellResult | None:
    """A delegate's reference is its device's cpu cell; a cpu cell's is the host's cpu cell
    with the fewest threads, which is its own reference (the root of every comparison)."""
    if row.delegate != "cpu":
        candidates = [
            r for r in results if (r.device, r.model, r.delegate) == (row.device, row.model, "cpu")
        ]
    else:
        candidates = [
            r for r in results if r.device in hosts and (r.model, r.delegate) == (row.model, "cpu")
        ]
    usable = [r for r in candidates if r.status == "ok" and outputs.get(r) is not None]
    if row.delegate == "cpu":
        usable.sort(key=lambda r: r.threads)
    else:
        usable.sort(key=lambda r: (r.threads != row.threads, r.threads))
    return usable[0] if usable else None


def _with_drift(
    row: CellResult, results: Sequence[CellResult], models: dict[str, Model], outputs: _OutputCache
) -> CellResult:
    model = models[row.model]
    sibling = _fp32_sibling(row, model, results, models, outputs)
    if sibling is None:
        return row
    row, judged = _held_to(sibling, row, model.drift_tolerance, "drift_", outputs)
    gated = model.drift_tolerance is not None and judged.failure_class not in (None, NOT_CHECKED)
    if not gated:
        return row
    return _failed_parity(
        row, f"drift from {sibling.cell_id}: {judged.reason}", judged.failure_class
    )


def _fp32_sibling(
    row: CellResult,
    model: Model,
    results: Sequence[CellResult],
    models: dict[str, Model],
    outputs: _OutputCache,
) -> CellResult | None:
    if model.family is None or model.variant in (None, "fp32"):
        return None
    for other in results:
        candidate = models.get(other.model)
        if (
            candidate
            and candidate.family == model.family
            and candidate.variant == "fp32"
            and (other.device, other.delegate, other.threads)
            == (row.device, row.delegate, row.threads)
            and other.status == "ok"
            and outputs.get(other) is not None
        ):
            return other
    return None


def _failed_parity(row: CellResult, reason: str, failure_class: str | None = None) -> CellResult:
    # The latency stays: a wrong delegate is still measured, and the row says why it failed.
    return dataclasses.replace(
        row,
        status="failed",
        failure_kind="parity",
        reason=_joined(row.reason, reason),
        parity_class=row.parity_class or failure_class,
    )


def _joined(first: str | None, then: str) -> str:
    return f"{first}; {then}" if first else then
