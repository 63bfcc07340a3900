"""What `farm run` shows in the terminal: the plan, a progress bar, the summary table."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from farm.compare import Comparison, to_json, to_markdown, to_table
from farm.config import device_summary
from farm.cores import fingerprint_cores, more_threads_than_cores
from farm.dashboard.cells import cell_ids
from farm.errors import EXIT_NOTHING_CHECKED
from farm.job import run_nightly, run_plan, write_report
from farm.orchestrator import ResultCallback, RunPlan
from farm.orchestrator.probe import DeviceProbe
from farm.spec import CellResult, Device
from farm.workers import usable_cores

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

_COLUMNS = (
    TextColumn("{task.description}"),
    BarColumn(),
    MofNCompleteColumn(),
    TimeElapsedColumn(),
    TextColumn("{task.fields[last]}"),
)
STATUS_STYLE = {"ok": "green", "failed": "bold red", "skipped": "yellow"}


def print_plan(plan: RunPlan, console: Console | None = None) -> None:
    """The cells a run would run, and those it would skip with the reason."""
    table = Table("device", "model", "delegate", "threads", "plan", title=f"run {plan.run_id}")
    for cell in plan.cells:
        table.add_row(
            cell.device.name, escape(cell.model.name), cell.delegate, str(cell.threads), "run"
        )
    for skip in plan.skips:
        c = skip.cell
        reason = escape(f"skip: {skip.reason}")
        table.add_row(c.device.name, escape(c.model.name), c.delegate, str(c.threads), reason)
    (console or Console()).print(table)


def run_with_progress(plan: RunPlan, console: Console | None = None) -> int:
    """Run the plan under a progress bar, print the summary and where the files are."""
    console = console or _stderr_console()
    with _progress(plan, "run", console) as advance:
        outcome = run_plan(plan, on_result=advance, report_workers=usable_cores())
    console.print(summary_table(outcome.results))
    print_reasons(outcome.results, console)
    console.print(f"results: {plan.run_dir}  dashboard: {outcome.dashboard}")
    if outcome.interrupted:
        print_resume_line(plan, outcome.results, console)
    elif not outcome.measured:
        console.print(f"[bold red]{nothing_measured(len(outcome.results))}")
    return outcome.exit_code


def nothing_measured(cells: int) -> str:
    """Why a run that ended without a failure still does not pass."""
    return (
        f"nothing measured: all {cells} cells were skipped (reasons above) → exit "
        f"{EXIT_NOTHING_CHECKED}; check --delegates / --threads against devices.yaml"
    )


def print_resume_line(plan: RunPlan, results: list[CellResult], console: Console) -> None:
    """How many cells an interrupted run lacks, and the exact command that runs them."""
    planned = len(plan.done) + len(plan.cells) + len(plan.skips)
    console.print(
        f"[yellow]interrupted: {planned - len(results)} of {planned} cells did not run; "
        f"to finish: farm run --resume {escape(str(plan.run_dir))}",
        soft_wrap=True,
    )


def write_report_with_progress(run_dir: Path, out: Path | None, workers: int) -> Path:
    """`farm report`: the dashboard, with a spinner while the results and history are read
    and a bar over the device pages of a large run (written by `workers` processes)."""
    columns = (SpinnerColumn(), *_COLUMNS[:-1])  # no `last` cell line
    with Progress(*columns, console=_stderr_console(), transient=True) as progress:
        task = progress.add_task(f"report {escape(run_dir.name)}: reading results", total=None)

        def page_written(device: str, done: int, total: int) -> None:
            what = f"report: page of {escape(device)}"
            progress.update(task, description=what, completed=done, total=total)

        return write_report(run_dir, out, page_written, workers)


def _stderr_console() -> Console:
    return Console(stderr=True, width=None if sys.stderr.isatty() else 160)


@contextlib.contextmanager
def _progress(plan: RunPlan, title: str, console: Console) -> Iterator[ResultCallback]:
    """A bar over the plan's cells (the callback advances it), with the farm's log lines
    printed above it as they come: a device lock another run holds, with its holder, while
    the run waits for it; a stale lock taken over."""
    log, handler = logging.getLogger("farm"), RichHandler(console=console, show_path=False)
    with Progress(*_COLUMNS, console=console, transient=False) as progress:
        total = len(plan.cells) + len(plan.skips)
        task = progress.add_task(f"{title} {plan.run_id}", total=total, last="")
        warned: set[str] = set()

        def advance(result: CellResult) -> None:
            progress.update(task, advance=1, last=_last_line(result))
            warning = oversubscription(result, warned)
            if warning:
                console.print(f"[yellow]warning: {escape(warning)}")

        log.addHandler(handler)
        try:
            yield advance
        finally:
            log.removeHandler(handler)


def oversubscription(result: CellResult, warned: set[str]) -> str | None:
    """The warning for a cell with more threads than its device's cores, once per device."""
    cores = fingerprint_cores(result.device_fingerprint)
    if cores is None or result.threads <= cores or result.device in warned:
        return None
    warned.add(result.device)
    return more_threads_than_cores(result.device, result.threads, cores)


def _last_line(result: CellResult) -> str:
    cell = escape(f"{result.device}/{result.model}/{result.delegate}/t{result.threads}")
    if result.status == "ok" and result.latency_median_ms is not None:
        return f"{cell} {result.latency_median_ms:.3g} ms"
    return f"{cell} [{STATUS_STYLE[result.status]}]{result.status}"


def summary_table(results: list[CellResult]) -> Table:
    """One line per cell: median with its spread (p5–p95, std, n), init time and status."""
    table = Table(title="results")
    for name in ("device", "model", "delegate", "thr", "status"):
        table.add_column(name, no_wrap=True, overflow="ellipsis")
    for name in ("median ms", "p5–p95 ms", "std ms", "n", "init ms"):
        table.add_column(name, justify="right", no_wrap=True)
    for r in sorted(results, key=lambda r: (r.device, r.model, r.delegate, r.threads)):
        table.add_row(
            r.device,
            escape(r.model),
            r.delegate,
            str(r.threads),
            f"[{STATUS_STYLE[r.status]}]{r.status}",
            _ms(r.latency_median_ms),
            _spread(r),
            _ms(r.latency_std_ms),
            str(r.latency_count or ""),
            _ms(r.init_ms),
        )
    return table


PRE_FLIGHT = "pre-flight:"  # a reason that stops every cell of a device (orchestrator/probe.py)


def print_reasons(results: list[CellResult], console: Console) -> None:
    """Why each cell that is not ok is not, one line each, in full; a device's pre-flight
    failure once for the device, with how many of its cells it stopped."""
    device_wide: dict[tuple[str, str, str | None, str], int] = {}
    for r in results:
        if r.status != "ok" and (r.reason or "").startswith(PRE_FLIGHT):
            key = (r.device, r.status, r.failure_kind, r.reason or "")
            device_wide[key] = device_wide.get(key, 0) + 1
    for (device, status, failure_kind, reason), count in device_wide.items():
        kind = f" ({failure_kind})" if failure_kind else ""
        cells = f"{device}, {count} cell{'' if count == 1 else 's'}"
        console.print(
            f"[{STATUS_STYLE[status]}]{status}{kind}[/] {escape(cells)}: {escape(reason)}"
        )
    for r in results:
        if r.status != "ok" and not (r.reason or "").startswith(PRE_FLIGHT):
            kind = f" ({r.failure_kind})" if r.failure_kind else ""
            cell = escape(f"{r.device}/{r.model}/{r.delegate}/t{r.threads}")
            console.print(
                f"[{STATUS_STYLE[r.status]}]{r.status}{kind}[/] {cell}: {escape(r.reason or '')}"
            )


def _spread(r: CellResult) -> str:
    if r.latency_p5_ms is None or r.latency_p95_ms is None:
        return ""
    return f"{r.latency_p5_ms:.3g}–{r.latency_p95_ms:.3g}"


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.3g}"


def print_devices(devices: Sequence[Device], title: str) -> None:
    table = Table("device", "transport", "runner", "delegates", "threads", title=title)
    for device in devices:
        table.add_row(*map(str, device_summary(device).values()))
    Console().print(table)


def print_lab_status(hosts: dict[str, str], quarantined: dict[str, str]) -> None:
    """`farm lab status`: the host advertising each device, and quarantines with reasons."""
    table = Table("device", "lab host", "health", title="devices the Ray cluster advertises")
    for name in sorted(set(hosts) | set(quarantined)):
        health = quarantined.get(name, "ok")
        table.add_row(name, hosts.get(name, "(no host)"), health)
    Console().print(table)


def print_probes(answers: Sequence[tuple[Device, DeviceProbe | None, str | None]]) -> None:
    """`farm devices --probe`: what each device really has, and what it declared but lacks."""
    table = Table(
        "device",
        "reachable",
        "runner",
        "runtimes",
        "free MB",
        "temperature",
        "declared but absent",
        title="probe",
    )
    for device, probe, error in answers:
        if probe is None:
            table.add_row(device.name, f"[red]no: {escape(error or '')}", "", "", "", "", "")
            continue
        runtimes = ", ".join(f"{k} {v}" for k, v in probe.runtimes.items())
        if not runtimes and probe.runtime_errors:  # the pre-flight will stop its cells
            runtimes = "[red]none: " + escape("; ".join(probe.runtime_errors.values()))
        absent = "; ".join(escape(reason) for reason in probe.absent.values())
        free = "" if probe.free_mb is None else f"{probe.free_mb:,.0f}"
        table.add_row(
            device.name,
            "[green]yes",
            _runner_answer(device, probe),
            runtimes,
            free,
            probe.temperature_source or "none",
            absent,
        )
    Console().print(table)


def _runner_answer(device: Device, probe: DeviceProbe) -> str:
    if device.runner == "benchmark_model":
        native = escape(probe.native or "")
        return f"[red]{native}" if native.startswith("none:") else f"benchmark_model {native}"
    if probe.no_python:
        return f"[red]no {escape(device.options.python)}: {escape(probe.no_python)}"
    return f"python {probe.python}" if probe.python else "python"


def print_history(frame: pd.DataFrame) -> None:
    """One line per run: when, how many cells, how they ended, on which devices."""
    table = Table(title="history")
    for name in ("run", "started", "cells", "ok", "failed", "skipped", "devices"):
        table.add_column(name, no_wrap=name != "devices")
    for run_id, rows in frame.groupby("run_id", sort=True):
        counts = rows.status.value_counts()
        table.add_row(
            str(run_id),
            str(rows.run_started_at.iloc[0] or ""),
            str(len(rows)),
            *(str(counts.get(s, 0)) for s in ("ok", "failed", "skipped")),
            escape(", ".join(sorted(rows.device.unique()))),
        )
    Console().print(table)


def print_cell_history(frame: pd.DataFrame, cell_id: str) -> None:
    """One cell's median (with p5–p95) in every run that measured it."""
    rows = frame[(cell_ids(frame) == cell_id).to_numpy(dtype=bool)]
    table = Table("run", "status", "median ms", "p5–p95 ms", "runtime", title=escape(cell_id))
    for _, row in rows.sort_values("run_id").iterrows():
        spread = f"{row.latency_p5_ms:.3g}–{row.latency_p95_ms:.3g}" if row.status == "ok" else ""
        median = f"{row.latency_median_ms:.3g}" if row.status == "ok" else ""
        table.add_row(
            row.run_id, row.status, median, spread, f"{row.runtime} {row.runtime_version}"
        )
    Console().print(table if len(rows) else f"no run measured {escape(cell_id)}")


def print_comparison(comparison: Comparison, output: str = "table") -> None:
    """A comparison as a rich table with its summary, or as JSON / Markdown on stdout."""
    if output == "json":
        print(to_json(comparison))
    elif output == "markdown":
        print(to_markdown(comparison))
    else:
        Console().print(to_table(comparison))


def run_nightly_with_progress(plan: RunPlan, threshold: float) -> int:
    """`farm nightly`: the run under a progress bar, then its comparison with the baseline."""
    console = _stderr_console()
    with _progress(plan, "nightly", console) as advance:
        nightly = run_nightly(plan, threshold, advance, report_workers=usable_cores())
    console.print(summary_table(nightly.run.results))
    print_reasons(nightly.run.results, console)
    if not nightly.run.interrupted and not nightly.run.measured:
        console.print(f"[bold red]{nothing_measured(len(nightly.run.results))}")
    if nightly.comparison is None:
        console.print("no earlier good run to compare with: this run is the first baseline")
    else:
        console.print(f"compared with {nightly.baseline}")
        console.print(to_table(nightly.comparison))
    console.print(f"results: {plan.run_dir}  dashboard: {nightly.run.dashboard}")
    if nightly.run.interrupted:
        print_resume_line(plan, nightly.run.results, console)
    return nightly.exit_code
