"""`farm sim`: virtual Android devices behind a real adb server, for tests and demos."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Annotated

import typer

from farm.cli.options import fetch_with_progress
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
    fetch_runner: Annotated[
        bool,
        typer.Option(
            "--fetch-runner",
            help="Phones with Android's userland run benchmark_model: fetch Google's Linux "
            "build for this host when the user cache has none.",
        ),
    ] = False,
    insecure: Annotated[
        bool,
        typer.Option(
            help="No adb AUTH and no shell sandbox: the phones accept any host and run "
            "commands as you on this host's files."
        ),
    ] = False,
) -> None:
    """Start virtual Android devices, register them with adb, print a devices.yaml for them."""
    from farm.sim.profile import PROFILES
    from farm.sim.userland import LINUX_PYTHON
    from farm.sim.virtual_lab import DEFAULT_STATE, devices_yaml, up

    if profile not in PROFILES:
        raise ConfigError(
            "command line",
            "--profile",
            f"unknown profile {profile!r}",
            f"use one of {', '.join(PROFILES)}",
        )
    _check_sandbox(insecure)
    binary = None if PROFILES[profile].userland == LINUX_PYTHON else phone_binary(fetch_runner)
    state = up(
        count,
        profile,
        SIM_ROOT.resolve(),
        DEFAULT_STATE,
        adb_port,
        start_server,
        insecure=insecure,
    )
    snippet = devices_yaml(state, benchmark_model=binary)
    if write_devices:
        write_devices.parent.mkdir(parents=True, exist_ok=True)
        write_devices.write_text(snippet)
    typer.echo(snippet, nl=False)


def phone_binary(fetch: bool) -> str | None:
    """The benchmark_model to name for the virtual phones, or None (they look in the user
    cache themselves). They run this host's binaries (glibc), so Google's Linux build for this
    host is what they can use (PLATFORMS has no Android x86_64 one). When there is none,
    say once, here, the ways to get one."""
    from farm.errors import FetchError
    from farm.runners.benchmark_model import prebuilt
    from farm.runners.benchmark_model.provision import BINARY, cache_root, device_abi

    abi = device_abi({"machine": platform.machine()})
    platform_name = prebuilt.host_platform()
    by_hand = cache_root() / str(abi) / BINARY
    cached = prebuilt.cached_prebuilt(platform_name) if platform_name else None
    if by_hand.is_file() or cached is None:
        return None
    python_phones = "or start phones for the Python runner: `farm sim up --profile linux-python`"
    if not cached.is_file() and fetch and not prebuilt.offline():
        try:
            fetch_with_progress(str(platform_name))
        except FetchError as exc:
            typer.echo(
                f"farm: note: the virtual phones need benchmark_model: {exc}; {python_phones}",
                err=True,
            )
            return None
    if cached.is_file():
        return str(cached)
    typer.echo(
        f"farm: note: the virtual phones run benchmark_model, and this host has none for {abi}: "
        f"run `farm runner fetch --abi host`, place a Linux {abi} build at {by_hand}, "
        f"{python_phones}",
        err=True,
    )
    return None


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
    from farm.sim.virtual_lab import DEFAULT_STATE, down, stopped_message

    typer.echo(stopped_message(down(DEFAULT_STATE)))
