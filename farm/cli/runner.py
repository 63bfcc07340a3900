"""`farm runner`: the runners a device needs, provisioned on this host (Google's prebuilt
``benchmark_model`` for a platform, downloaded into the user cache, as Google's ``litert`` CLI
does on first use)."""

from __future__ import annotations

from typing import Annotated

import typer

from farm.cli.options import fetch_with_progress
from farm.errors import ConfigError

runner_app = typer.Typer(help="Provision the runners devices need (benchmark_model per platform).")


@runner_app.command("fetch")
def fetch(
    abi: Annotated[
        str,
        typer.Option(
            "--abi",
            help="The published platform: android_aarch64 | android_arm | linux_x86-64 | "
            "linux_aarch64 | linux_arm, or host (this machine's Linux one).",
        ),
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Download again even when the cache has it.")
    ] = False,
) -> None:
    """Download Google's official prebuilt benchmark_model for a platform into the user cache
    (checked: whole, an ELF for that ABI); FARM_PREBUILT_URL points at a mirror."""
    from farm.runners.benchmark_model import prebuilt

    if abi == "host":
        abi = prebuilt.host_platform() or abi
    if abi not in prebuilt.PLATFORMS:
        known = ", ".join(prebuilt.PLATFORMS)
        raise ConfigError("command line", "--abi", f"unknown platform {abi!r}", f"use {known}")
    cached = prebuilt.cached_prebuilt(abi)
    if cached.is_file() and not force:
        typer.echo(f"{cached} is already in the cache (--force downloads it again)")
        return
    got = fetch_with_progress(abi)
    typer.echo(f"{got.path}\nsha256 {got.sha256}\nfrom   {got.url}")
