"""Run cells on the lab: plan, per-device workers, measuring one cell, result rows."""

from farm.orchestrator.execute import Connect, Recorder, ResultCallback, execute
from farm.orchestrator.plan import (
    PLAN_FILE,
    Executor,
    RunPlan,
    RunRequest,
    inspect_models,
    new_run_id,
    plan_run,
    provenance,
    utc_now,
)

__all__ = [
    "PLAN_FILE",
    "Connect",
    "Executor",
    "Recorder",
    "ResultCallback",
    "RunPlan",
    "RunRequest",
    "execute",
    "inspect_models",
    "new_run_id",
    "plan_run",
    "provenance",
    "utc_now",
]
