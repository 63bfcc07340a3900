"""Run cells on the lab: plan, per-device workers, measuring one cell, result rows."""

from farm.orchestrator.execute import Connect, Recorder, ResultCallback, execute
from farm.orchestrator.plan import (
    Executor,
    RunPlan,
    inspect_models,
    new_run_id,
    provenance,
    utc_now,
)

__all__ = [
    "Connect",
    "Executor",
    "Recorder",
    "ResultCallback",
    "RunPlan",
    "execute",
    "inspect_models",
    "new_run_id",
    "provenance",
    "utc_now",
]
