"""The `farm` command. Exit codes live here: 0 all cells ok or skipped, 1 a cell failed,
2 invalid input (``FarmError.exit_code``), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM,
handled exactly as Ctrl-C: no new cell starts, what finished is written)."""

from __future__ import annotations

import importlib
import json
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from farm.cluster.address import ray_missing
from farm.errors import ConfigError, FarmError
from farm.spec import Device

EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143


class FarmGroup(TyperGroup):
    """Maps the farm's exceptions to exit codes in one place, also under typer's CliRunner."""

    def invoke(self, ctx: Any) -> Any:  # typer's own (vendored) click Context
        try:
            return super().invoke(ctx)
        except FarmError as exc:
            typer.echo(f"farm: error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from exc
        except KeyboardInterrupt:
            typer.echo("farm: interrupted", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None


app = typer.Typer(
    cls=FarmGroup,
    help="Benchmark TensorFlow Lite / LiteRT models on every device and delegate of your lab.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DevicesOption = Annotated[
    Path, typer.Option("--devices", "-d", help="The lab inventory (devices.yaml).")
]
ModelsOption = Annotated[
    Path, typer.Option("--models", "-m", help="A models.yaml, or a folder of .tflite files.")
]


def _csv(value: str | None, kind: type = str) -> list[Any] | None:
    if not value:
        return None
    try:
        return [kind(part.strip()) for part in value.split(",") if part.strip()]
    except ValueError as exc:
        raise ConfigError("command line", "", f"cannot read {value!r}", "use e.g. 1,2,4") from exc


def _one_of(option: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(
            "command line", option, f"unknown value {value!r}", f"use {' or '.join(choices)}"
        )


@app.command()
def run(
    devices: DevicesOption = Path("devices.yaml"),
    models: ModelsOption = Path("models"),
    delegates: Annotated[
        str | None, typer.Option(help="e.g. cpu,xnnpack (default: each device's own)")
    ] = None,
    threads: Annotated[
        str | None, typer.Option(help="e.g. 1,2 (default: each device's own)")
    ] = None,
    runs: Annotated[int, typer.Option(min=1, help="Timed invokes per cell (at least).")] = 50,
    warmup: Annotated[
        int, typer.Option(min=1, help="Untimed invokes first (the first is reported).")
    ] = 5,
    min_seconds: Annotated[float, typer.Option(min=0, help="Keep timing until this long.")] = 0.0,
    seed: Annotated[
        int | None, typer.Option(help="Inputs and cell order (default: random, recorded).")
    ] = None,
    order: Annotated[str, typer.Option(help="shuffled | as-listed")] = "shuffled",
    timeout: Annotated[float, typer.Option(min=1, help="Seconds one cell may take.")] = 300.0,
    retries: Annotated[
        int, typer.Option(min=0, help="Extra attempts of a cell that failed for infra reasons.")
    ] = 1,
    lock_timeout: Annotated[
        float, typer.Option(min=0, help="Seconds to wait for a device another run holds.")
    ] = 600.0,
    repeats: Annotated[
        int,
        typer.Option(
            min=1,
            help="Runner processes per cell, samples pooled: comparisons then allow for "
            "process-to-process noise (use 2-3 for a CI gate).",
        ),
    ] = 1,
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
    """Run the matrix (models × devices × delegates × threads) and write results + dashboard."""
    from farm.job import RunRequest, plan_run

    _one_of("--order", order, ("shuffled", "as-listed"))
    _one_of("--executor", executor, ("local", "ray"))
    request = RunRequest(
        devices=devices,
        models=models,
        delegates=_csv(delegates),
        threads=_csv(threads, int),
        runs=runs,
        warmup=warmup,
        min_seconds=min_seconds,
        seed=seed,
        order=order,  # type: ignore[arg-type]
        timeout_s=timeout,
        retries=retries,
        lock_timeout_s=lock_timeout,
        repeats=repeats,
        run_dir=run_dir,
        dry_run=dry_run,
        resume=resume,
        executor=executor,  # type: ignore[arg-type]
        address=address,
    )
    plan = plan_run(request)
    if dry_run:
        from farm.console import print_plan

        print_plan(plan)
        return
    from farm.console import run_with_progress

    raise typer.Exit(run_with_progress(plan))


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (holds journal.jsonl).")],
    out: Annotated[Path | None, typer.Option(help="Default: RUN_DIR/dashboard.html.")] = None,
) -> None:
    """Write the dashboard of a run (also of an unfinished one, from its journal)."""
    from farm.job import write_report

    if not (run_dir / "journal.jsonl").exists() and not (run_dir / "results.parquet").exists():
        raise ConfigError(str(run_dir), "", "not a run directory", "pass reports/runs/<run id>")
    typer.echo(write_report(run_dir, out))


@app.command("devices")
def devices_command(
    devices: DevicesOption = Path("devices.yaml"),
    schema: Annotated[
        bool, typer.Option("--schema", help="Print devices.yaml's JSON Schema.")
    ] = False,
    probe: Annotated[bool, typer.Option("--probe", help="Connect and ask each device.")] = False,
) -> None:
    """List the lab's devices and what each can run (with --probe: what each really has)."""
    from farm import config

    if schema:
        typer.echo(json.dumps(config.devices_json_schema(), indent=2))
        return
    from farm.console import print_devices, print_probes

    if probe:
        from farm.job import probe_lab

        print_probes(probe_lab(devices))
    else:
        print_devices(config.load_devices(devices), str(devices))


@app.command("models")
def models_command(models: ModelsOption = Path("models")) -> None:
    """List the models with what their flatbuffers say (size, ops, dtypes, Edge TPU)."""
    from rich.console import Console
    from rich.table import Table

    from farm.config import load_models
    from farm.modelinfo import inspect_model

    table = Table("model", "variant", "size", "inputs", "ops", "custom ops", title=str(models))
    for model in load_models(models):
        info = inspect_model(model.path)
        inputs = "; ".join(f"{t.dtype}{list(t.shape)}" for t in info.inputs)
        table.add_row(
            model.name,
            model.variant or "",
            f"{model.size_bytes / 1e6:.2f} MB",
            inputs,
            str(sum(info.op_histogram.values())),
            ", ".join(info.custom_ops),
        )
    Console().print(table)


@app.command()
def compare(
    base: Annotated[Path, typer.Argument(help="The baseline: a run directory or results file.")],
    new: Annotated[Path, typer.Argument(help="The run to judge.")],
    threshold: Annotated[float, typer.Option(min=0, help="Smallest change that matters.")] = 0.05,
    output: Annotated[str, typer.Option("--format", help="table | json | markdown")] = "table",
) -> None:
    """Per comparable cell: the change in median with its 95 % interval, and a verdict.

    Exit 0: no regression; 3: a significant regression beyond --threshold; 4: parity newly
    broken; 5: only infrastructure failures in NEW."""
    from farm.compare import compare_runs, load_result_set
    from farm.console import print_comparison

    _one_of("--format", output, ("table", "json", "markdown"))
    comparison = compare_runs(load_result_set(base), load_result_set(new), threshold)
    print_comparison(comparison, output)
    raise typer.Exit(comparison.exit_code)


@app.command()
def nightly(
    devices: DevicesOption = Path("devices.yaml"),
    models: ModelsOption = Path("models"),
    threshold: Annotated[float, typer.Option(min=0, help="Smallest change that matters.")] = 0.05,
    runs: Annotated[int, typer.Option(min=1, help="Timed invokes per cell.")] = 50,
    repeats: Annotated[
        int, typer.Option(min=1, help="Runner processes per cell, samples pooled.")
    ] = 2,
) -> None:
    """Run the matrix, compare it with the last good run and write the dashboard; exits
    like `farm compare` (3 regression, 4 parity broken, 5 infra only) or like `farm run`."""
    from farm.console import run_nightly_with_progress
    from farm.job import RunRequest, plan_run

    request = RunRequest(devices=devices, models=models, runs=runs, repeats=repeats)
    plan = plan_run(request)
    raise typer.Exit(run_nightly_with_progress(plan, threshold))


@app.command()
def history(
    reports: Annotated[Path, typer.Option(help="The folder holding runs/.")] = Path("reports"),
    cell: Annotated[str | None, typer.Option(help="device-model-delegate-tN: its medians.")] = None,
) -> None:
    """Every run under reports/runs in one table (or one cell's median over time)."""
    from farm.console import print_cell_history, print_history
    from farm.store import load_history

    frame = load_history(reports)
    if cell:
        print_cell_history(frame, cell)
    else:
        print_history(frame)


@app.command("parse-log")
def parse_log(
    file: Annotated[str, typer.Argument(help="A benchmark_model output, or - for stdin.")],
) -> None:
    """Parse what benchmark_model printed and print it as JSON (times in µs, memory in MB)."""
    from farm.runners.benchmark_model import parse_benchmark_model_output

    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(errors="replace")
    except OSError as exc:
        raise ConfigError(file, "", f"cannot read: {exc.strerror}", "pass a readable log") from exc
    typer.echo(json.dumps(parse_benchmark_model_output(text).to_dict(), indent=2))


sim_app = typer.Typer(help="The virtual lab: virtual Android devices behind a real adb server.")
app.add_typer(sim_app, name="sim")
SIM_ROOT = Path("reports") / "sim"


@sim_app.command("up")
def sim_up(
    count: Annotated[int, typer.Option(min=1, max=64, help="How many devices.")] = 2,
    profile: Annotated[
        str,
        typer.Option(
            help="Device profile: pixel8 | generic_arm64 (Android's mksh + toybox, no Python) "
            "| linux-python (the host's tools and a python3, for the Python runner)."
        ),
    ] = "pixel8",
    adb_port: Annotated[int | None, typer.Option(help="The adb server's port.")] = None,
    start_server: Annotated[bool, typer.Option(help="Start a private adb server.")] = False,
    write_devices: Annotated[
        Path | None, typer.Option(help="Also write the devices.yaml here.")
    ] = None,
) -> None:
    """Start virtual Android devices, register them with adb, print a devices.yaml for them."""
    from farm.sim.lab import DEFAULT_STATE, devices_yaml, up
    from farm.sim.profile import PROFILES

    if profile not in PROFILES:
        raise ConfigError(
            "command line",
            "--profile",
            f"unknown profile {profile!r}",
            f"use one of {', '.join(PROFILES)}",
        )
    state = up(count, profile, SIM_ROOT.resolve(), DEFAULT_STATE, adb_port, start_server)
    snippet = devices_yaml(state)
    if write_devices:
        write_devices.parent.mkdir(parents=True, exist_ok=True)
        write_devices.write_text(snippet)
    typer.echo(snippet, nl=False)


@sim_app.command("down")
def sim_down() -> None:
    """Stop the virtual devices (and the adb server `farm sim up --start-server` started)."""
    from farm.sim.lab import DEFAULT_STATE, down

    state = down(DEFAULT_STATE)
    typer.echo(f"stopped {len(state.serials)} virtual devices" if state else "nothing running")


lab_app = typer.Typer(help="Scale out on Ray: lab hosts join one cluster with their devices.")
app.add_typer(lab_app, name="lab")
AddressOption = Annotated[
    str | None, typer.Option(help="The Ray head, HOST:PORT (default: RAY_ADDRESS).")
]


@lab_app.command("join")
def lab_join(
    address: Annotated[str, typer.Option(help="The Ray head to join, HOST:PORT.")],
    devices: DevicesOption = Path("devices.yaml"),
    only: Annotated[
        str | None, typer.Option(help="The devices this host reaches, e.g. phone1,board2.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the command only.")] = False,
) -> None:
    """Join this host to the Ray cluster with its devices (one host per device)."""
    from farm.config import load_devices

    lab = _ray_module("farm.cluster.lab")
    chosen = _only(load_devices(devices), _csv(only), devices)
    argv = lab.join_argv(chosen, address)
    typer.echo(shlex.join(argv))
    if not dry_run:
        ray = shutil.which("ray")
        start = [ray] if ray else [sys.executable, "-m", "ray.scripts.scripts"]
        raise typer.Exit(subprocess.call([*start, *argv[1:]]))


@lab_app.command("status")
def lab_status(
    address: AddressOption = None,
    release: Annotated[
        str | None, typer.Option(help="Lift the quarantine of these devices, e.g. phone1.")
    ] = None,
) -> None:
    """Which host advertises each device, and which devices are quarantined, with why."""
    from farm.console import print_lab_status

    lab = _ray_module("farm.cluster.lab")
    with lab.connected(address):
        status = lab.lab_status(_csv(release) or ())
    print_lab_status(status.hosts, status.quarantined)
    for name in status.released:
        typer.echo(f"lifted the quarantine of {name}")


def _ray_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != "ray":
            raise
        raise ray_missing("farm lab") from exc


def _only(devices: Sequence[Device], names: list[str] | None, path: Path) -> list[Device]:
    if names is None:
        return list(devices)
    unknown = sorted(set(names) - {d.name for d in devices})
    if unknown:
        raise ConfigError(
            "command line", "--only", f"not in {path}: {', '.join(unknown)}", "name its devices"
        )
    return [d for d in devices if d.name in names]


def main() -> None:
    """Console-script entry point. SIGTERM (a CI job cancelled, `kill`, systemd) is Ctrl-C."""
    terminated: list[int] = []

    def interrupt(signum: int, _frame: object) -> None:
        terminated.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        app()
    except SystemExit as exc:
        if terminated and exc.code == EXIT_INTERRUPTED:
            raise SystemExit(EXIT_TERMINATED) from None
        raise
