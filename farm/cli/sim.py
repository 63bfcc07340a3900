"""`farm sim`: virtual Android devices behind a real adb server, for tests and demos."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from farm.errors import ConfigError

sim_app = typer.Typer(help="The virtual lab: virtual Android devices behind a real adb server.")
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
    insecure: Annotated[
        bool,
        typer.Option(
            help="No adb AUTH and no shell sandbox: the phones accept any host and run "
            "commands as you on this host's files."
        ),
    ] = False,
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
    _check_sandbox(insecure)
    state = up(
        count,
        profile,
        SIM_ROOT.resolve(),
        DEFAULT_STATE,
        adb_port,
        start_server,
        insecure=insecure,
    )
    snippet = devices_yaml(state)
    if write_devices:
        write_devices.parent.mkdir(parents=True, exist_ok=True)
        write_devices.write_text(snippet)
    typer.echo(snippet, nl=False)


def _check_sandbox(insecure: bool) -> None:
    from farm.sim.confine import SandboxMissing, bwrap_path

    if insecure:
        typer.echo(
            "WARNING: --insecure: the virtual phones accept any adb host and run its commands "
            "as you, with your access to this host's files",
            err=True,
        )
        return
    try:
        bwrap_path()
    except SandboxMissing:
        raise ConfigError(
            "command line",
            "farm sim up",
            "the virtual phones' shell sandbox needs bubblewrap, which is not installed",
            "apt-get install bubblewrap, or pass --insecure to run their commands unconfined",
        ) from None


@sim_app.command("down")
def sim_down() -> None:
    """Stop the virtual devices (and the adb server `farm sim up --start-server` started)."""
    from farm.sim.lab import DEFAULT_STATE, down, stopped_message

    typer.echo(stopped_message(down(DEFAULT_STATE)))
