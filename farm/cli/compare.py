"""`farm compare` (two runs, per-cell verdicts), `farm nightly` (run, then compare with the
last good run) and `farm history` (every run so far)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from farm.cli.options import DEFAULT, DevicesOption, ModelsOption, one_of
from farm.spec import RunSettings


def compare(
    base: Annotated[Path, typer.Argument(help="The baseline: a run directory or results file.")],
    new: Annotated[Path, typer.Argument(help="The run to judge.")],
    threshold: Annotated[float, typer.Option(min=0, help="Smallest change that matters.")] = 0.05,
    output: Annotated[str, typer.Option("--format", help="table | json | markdown")] = "table",
) -> None:
    """Per comparable cell: the change in median with its 95 % interval, and a verdict.

    Exit 0: no regression; 3: a significant regression beyond --threshold; 4: parity newly
    broken; 5: only infrastructure failures in NEW; 6: nothing compared (no cell measured in
    both runs)."""
    from farm.cli.console import print_comparison
    from farm.compare import compare_runs, load_result_set

    one_of("--format", output, ("table", "json", "markdown"))
    comparison = compare_runs(load_result_set(base), load_result_set(new), threshold)
    print_comparison(comparison, output)
    raise typer.Exit(comparison.exit_code)


def nightly(
    devices: DevicesOption = Path("devices.yaml"),
    models: ModelsOption = Path("models"),
    threshold: Annotated[float, typer.Option(min=0, help="Smallest change that matters.")] = 0.05,
    runs: Annotated[int, typer.Option(min=1, help="Timed invokes per cell.")] = DEFAULT.runs,
    warmup: Annotated[
        int, typer.Option(min=1, help="Untimed invokes first (the first is reported).")
    ] = DEFAULT.warmup,
    repeats: Annotated[
        int, typer.Option(min=1, help="Runner processes per cell, samples pooled.")
    ] = 2,  # not farm run's 1: a gate allows for process-to-process noise
) -> None:
    """Run the matrix, compare it with the last good run and write the dashboard; exits
    like `farm compare` (3 regression, 4 parity broken, 5 infra only, 6 nothing compared) or
    like `farm run` (6: nothing measured)."""
    from farm.cli.console import run_nightly_with_progress
    from farm.orchestrator import RunRequest, plan_run

    settings = RunSettings(runs=runs, warmup=warmup, repeats=repeats)
    request = RunRequest(devices, models, settings)
    plan = plan_run(request)
    raise typer.Exit(run_nightly_with_progress(plan, threshold))


def history(
    reports: Annotated[Path, typer.Option(help="The folder holding runs/.")] = Path("reports"),
    cell: Annotated[str | None, typer.Option(help="device-model-delegate-tN: its medians.")] = None,
) -> None:
    """Every run under reports/runs in one table (or one cell's median over time)."""
    from farm.cli.console import print_cell_history, print_history
    from farm.store import load_history

    # The table of runs reads three columns of each; one cell's history reads every column
    # but the samples.
    frame = load_history(reports, columns=None if cell else ("status", "device"))
    if cell:
        print_cell_history(frame, cell)
    else:
        print_history(frame)
