"""`farm run` (the matrix, its results and dashboard) and `farm report` (the dashboard again)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from farm.cli.options import DEFAULT, DevicesOption, ModelsOption, csv_option, one_of
from farm.errors import EXIT_NOTHING_CHECKED, ConfigError
from farm.spec import RunSettings


def run(
    devices: DevicesOption = Path("devices.yaml"),
    models: ModelsOption = Path("models"),
    delegates: Annotated[
        str | None, typer.Option(help="e.g. cpu,xnnpack (default: each device's own)")
    ] = None,
    threads: Annotated[
        str | None, typer.Option(help="e.g. 1,2 (default: each device's own)")
    ] = None,
    runs: Annotated[
        int, typer.Option(min=1, help="Timed invokes per cell (at least).")
    ] = DEFAULT.runs,
    warmup: Annotated[
        int, typer.Option(min=1, help="Untimed invokes first (the first is reported).")
    ] = DEFAULT.warmup,
    min_seconds: Annotated[float, typer.Option(min=0, help="Keep timing until this long.")] = (
        DEFAULT.min_seconds
    ),
    seed: Annotated[
        int | None, typer.Option(help="Inputs and cell order (default: random, recorded).")
    ] = DEFAULT.seed,
    order: Annotated[str, typer.Option(help="shuffled | as-listed")] = DEFAULT.order,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds one cell may take.")] = (
        DEFAULT.timeout_s
    ),
    retries: Annotated[
        int, typer.Option(min=0, help="Extra attempts of a cell that failed for infra reasons.")
    ] = DEFAULT.retries,
    lock_timeout: Annotated[
        float, typer.Option(min=0, help="Seconds to wait for a device another run holds.")
    ] = DEFAULT.lock_timeout_s,
    repeats: Annotated[
        int,
        typer.Option(
            min=1,
            help="Runner processes per cell, samples pooled: comparisons then allow for "
            "process-to-process noise (use 2-3 for a CI gate).",
        ),
    ] = DEFAULT.repeats,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            help="Download no prebuilt benchmark_model for a device that lacks one "
            "(FARM_OFFLINE=1 does the same).",
        ),
    ] = DEFAULT.offline,
    run_dir: Annotated[Path | None, typer.Option(help="Default: reports/runs/<run id>.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the cells, run nothing.")
    ] = False,
    resume: Annotated[
        Path | None, typer.Option(help="Finish an interrupted run: only cells it lacks run.")
    ] = None,
    executor: Annotated[
        str, typer.Option(help="local (this host's workers) | ray (tasks on a Ray cluster)")
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(help="The Ray head, HOST:PORT (default: RAY_ADDRESS, else a local one)."),
    ] = None,
) -> None:
    """Run the matrix (models × devices × delegates × threads) and write results + dashboard.

    Exit 0: cells measured, none failed; 1: a cell failed; 2: invalid input; 6: nothing
    measured (every cell skipped); 130 / 143: interrupted (Ctrl-C / SIGTERM)."""
    from farm.job import check_executor
    from farm.orchestrator import RunRequest, plan_run

    one_of("--order", order, ("shuffled", "as-listed"))
    one_of("--executor", executor, ("local", "ray"))
    settings = RunSettings(
        runs=runs,
        warmup=warmup,
        min_seconds=min_seconds,
        seed=seed,
        timeout_s=timeout,
        retries=retries,
        lock_timeout_s=lock_timeout,
        repeats=repeats,
        offline=offline,
        delegates=csv_option("--delegates", delegates),
        threads=csv_option("--threads", threads, int),
        order=order,  # type: ignore[arg-type]
    )
    request = RunRequest(
        devices,
        models,
        settings,
        run_dir=run_dir,
        resume=resume,
        executor=executor,  # type: ignore[arg-type]
        address=address,
    )
    check_executor(request)
    plan = plan_run(request)
    if dry_run:
        from farm.cli.console import print_plan

        print_plan(plan)
        if not plan.cells and not any(r.status == "ok" for r in plan.done):
            skipped = f"all {len(plan.skips)} cells would be skipped (reasons above)"
            typer.echo(f"farm: nothing would be measured: {skipped}", err=True)
            raise typer.Exit(EXIT_NOTHING_CHECKED)
        return
    from farm.cli.console import run_with_progress

    raise typer.Exit(run_with_progress(plan))


def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (holds journal.jsonl).")],
    out: Annotated[Path | None, typer.Option(help="Default: RUN_DIR/dashboard.html.")] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            min=1, help="Processes that write a large run's device pages (default: one per core)."
        ),
    ] = None,
) -> None:
    """Write the dashboard of a run (also of an unfinished one, from its journal)."""
    from farm.cli.console import write_report_with_progress
    from farm.workers import usable_cores

    if not (run_dir / "journal.jsonl").exists() and not (run_dir / "results.parquet").exists():
        raise ConfigError(str(run_dir), "", "not a run directory", "pass reports/runs/<run id>")
    typer.echo(write_report_with_progress(run_dir, out, jobs or usable_cores()))
