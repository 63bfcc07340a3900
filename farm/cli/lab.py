"""`farm lab`: lab hosts join one Ray cluster with their devices. Ray is an optional extra,
imported only inside these commands (a local `farm run` never imports it)."""

from __future__ import annotations

import importlib
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from farm.cli.options import DevicesOption, csv_option
from farm.cluster.address import ray_missing
from farm.errors import ConfigError
from farm.spec import Device

lab_app = typer.Typer(help="Scale out on Ray: lab hosts join one cluster with their devices.")
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

    lab = _ray_module("farm.cluster.ray_cluster")
    chosen = _only(load_devices(devices), csv_option("--only", only), devices)
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
    from farm.cli.console import print_lab_status

    lab = _ray_module("farm.cluster.ray_cluster")
    with lab.connected(address):
        status = lab.lab_status(csv_option("--release", release) or ())
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
