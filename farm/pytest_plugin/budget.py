"""Latency budgets from the models manifest: which ``budget_ms`` applies to a device × delegate.

The manifest's ``budget_ms`` on a model is one number, or a mapping with any of the keys
``default``, a device name, a delegate name, and ``device/delegate``. The most specific key wins:
``device/delegate``, then the device, then the delegate, then ``default`` (a device is more
specific than a delegate: a slow board has its own budget whatever the delegate).
``farm.config`` hands it on as ``Model.budget_ms`` (a lone number becomes ``{"default": n}``).
"""

from __future__ import annotations

from collections.abc import Mapping

from farm.spec import Cell

BudgetValue = float | Mapping[str, float] | None


def budget_rule(budget: BudgetValue, device: str, delegate: str) -> tuple[str, float] | None:
    """The key that applies (``budget_ms`` for a lone number) and its budget in ms, or None."""
    if budget is None:
        return None
    if isinstance(budget, int | float):
        return "budget_ms", float(budget)
    for key in (f"{device}/{delegate}", device, delegate, "default"):
        if key in budget:
            return key, float(budget[key])
    return None


def budget_for(budget: BudgetValue, device: str, delegate: str) -> float | None:
    """The median-latency budget (ms) for ``device`` × ``delegate``; None when none applies."""
    rule = budget_rule(budget, device, delegate)
    return rule[1] if rule else None


def budget_breach(cell: Cell, median_ms: float | None, spread: str) -> str | None:
    """Why ``median_ms`` breaks the cell's budget_ms (``spread`` says how the samples lay), or
    None when no budget applies or the median keeps it."""
    rule = budget_rule(cell.model.budget_ms, cell.device.name, cell.delegate)
    if rule is None:
        return None
    key, budget_ms = rule
    where = f"budget_ms {budget_ms:g} ms ({cell.model.name}: {key})"
    if median_ms is None:
        return f"no median latency measured to hold against {where}"
    if median_ms <= budget_ms:
        return None
    return f"over budget: median {median_ms:.4g} ms ({spread}) exceeds {where}"
