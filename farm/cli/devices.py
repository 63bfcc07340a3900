"""`farm devices` (the inventory, or what each device really has), `farm models` (what the
flatbuffers say) and `farm parse-log` (a benchmark_model output as JSON)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from farm.cli.options import DevicesOption, ModelsOption
from farm.errors import ConfigError


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
    from farm.cli.console import print_devices, print_probes

    if probe:
        from farm.orchestrator.probe import probe_lab

        answers = probe_lab(devices)
        print_probes(answers)
        if not any(probe for _, probe, _ in answers):
            typer.echo("farm devices --probe: no device answered", err=True)
            raise typer.Exit(1)
    else:
        print_devices(config.load_devices(devices), str(devices))


def models_command(models: ModelsOption = Path("models")) -> None:
    """List the models with what their flatbuffers say (size, ops, dtypes, Edge TPU).

    A file that is not a TFLite model is a row saying why, as its cells are in `farm run`;
    the exit is then 1."""
    from rich.console import Console
    from rich.table import Table

    from farm.config import load_models
    from farm.modelinfo import inspect_model

    table = Table("model", "variant", "size", "inputs", "ops", "custom ops", title=str(models))
    unreadable = 0
    for model in load_models(models):
        try:
            info = inspect_model(model.path)
        except ConfigError as exc:
            unreadable += 1
            size = f"{model.size_bytes / 1e6:.2f} MB"
            table.add_row(model.name, model.variant or "", size, f"[red]{exc.problem}[/red]")
            continue
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
    if unreadable:
        typer.echo(f"farm models: {unreadable} file(s) are not TFLite models", err=True)
        raise typer.Exit(1)


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
