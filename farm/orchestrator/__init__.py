"""Run cells on the lab: plan, per-device workers, measuring one cell, result rows."""

from farm.orchestrator.execute import Connect, Recorder, ResultCallback, execute
from farm.orchestrator.plan import (
    PLAN_FILE,
    RunPlan,
    RunRequest,
    new_run_id,
    plan_run,
    provenance,
    utc_now,
)

__all__ = [
    "PLAN_FILE",
    "Connect",
    "Recorder",
    "ResultCallback",
    "RunPlan",
    "RunRequest",
    "execute",
    "new_run_id",
    "plan_run",
    "provenance",
    "utc_now",
]
