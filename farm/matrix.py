"""Expand devices × models × delegates × threads into cells, and the cells that cannot run."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Sequence

from farm.spec import PYTHON_RUNNER_ONLY, Cell, Device, Model, Order, Skip


def expand(
    devices: Sequence[Device],
    models: Sequence[Model],
    delegates: Sequence[str] | None = None,
    threads: Sequence[int] | None = None,
) -> tuple[list[Cell], list[Skip]]:
    """Every cell of the matrix, split into those to run and those skipped with a reason.

    ``delegates`` / ``threads`` narrow or widen what each device declares; a delegate asked for
    but not declared by a device is a skipped cell, so the gap shows in the results.
    """
    cells: list[Cell] = []
    skips: list[Skip] = []
    for device in devices:
        for cell in _device_cells(device, models, delegates, threads):
            reason = skip_reason(cell)
            if reason:
                skips.append(Skip(cell, reason))
            else:
                cells.append(cell)
    return cells, skips


def _device_cells(
    device: Device,
    models: Sequence[Model],
    delegates: Sequence[str] | None,
    threads: Sequence[int] | None,
) -> Iterable[Cell]:
    wanted = delegates or device.delegates
    counts = threads or device.options.threads
    for model, delegate, n in itertools.product(models, wanted, counts):
        yield Cell(device, model, delegate, n)


def skip_reason(cell: Cell) -> str | None:
    """Why this cell cannot run at all, from declared facts alone; None when it can be tried."""
    device, model, delegate = cell.device, cell.model, cell.delegate
    if delegate not in device.delegates:
        return f"{device.name} does not list delegate {delegate} in devices.yaml"
    if model.is_edgetpu and delegate != "edgetpu":
        return f"{model.name} is compiled for the Edge TPU and runs only on the edgetpu delegate"
    native = device.runner == "benchmark_model"
    if delegate == "npu" and native and not device.options.npu_libraries:
        return (
            f"npu on benchmark_model needs LiteRT's benchmark_model and the SoC's libraries:"
            f" set devices.{device.name}.npu_libraries to their folder"
        )
    if delegate in PYTHON_RUNNER_ONLY and native:
        return f"benchmark_model has no {delegate} flag: give {device.name} runner: python"
    if delegate == "edgetpu" and not model.is_edgetpu:
        return f"the edgetpu delegate runs only Edge TPU-compiled models, not {model.name}"
    return None


def order_cells(cells: Sequence[Cell], seed: int, order: Order = "shuffled") -> list[Cell]:
    """Per device, interleave delegates and shuffle with ``seed``, so slow drift (heat, other
    load) spreads over every delegate instead of biasing whichever ran last."""
    if order == "as-listed":
        return list(cells)
    rng = random.Random(seed)
    ordered: list[Cell] = []
    for device in dict.fromkeys(c.device.name for c in cells):
        ordered.extend(_interleave([c for c in cells if c.device.name == device], rng))
    return ordered


def _interleave(cells: list[Cell], rng: random.Random) -> list[Cell]:
    by_delegate: dict[str, list[Cell]] = {}
    for cell in cells:
        by_delegate.setdefault(cell.delegate, []).append(cell)
    groups = list(by_delegate.values())
    rng.shuffle(groups)
    for group in groups:
        rng.shuffle(group)
    merged = itertools.zip_longest(*groups)
    return [cell for row in merged for cell in row if cell is not None]
