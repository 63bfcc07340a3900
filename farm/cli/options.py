"""What several `farm` commands share: the inventory and models options, the run settings'
defaults, reading comma-separated and one-of option values into a ``ConfigError`` that names the
option, and a download of a prebuilt benchmark_model with a progress bar."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from farm.errors import ConfigError
from farm.spec import RunSettings

if TYPE_CHECKING:
    from farm.runners.benchmark_model.prebuilt import Prebuilt

DevicesOption = Annotated[
    Path, typer.Option("--devices", "-d", help="The lab inventory (devices.yaml).")
]
ModelsOption = Annotated[
    Path, typer.Option("--models", "-m", help="A models.yaml, or a folder of .tflite files.")
]
DEFAULT = RunSettings()  # the run options' defaults are the run settings' own


def csv_option(option: str, value: str | None, kind: type = str) -> list[Any] | None:
    """``"1,2,4"`` as ``[1, 2, 4]``; None when the option was not given."""
    from farm.config import split_csv  # pydantic and yaml: not for `farm --help`

    try:
        return split_csv(value, kind)
    except ValueError as exc:
        raise ConfigError(
            "command line", option, f"cannot read {value!r}", "use e.g. 1,2,4"
        ) from exc


def one_of(option: str, value: str, choices: tuple[str, ...]) -> None:
    """Refuse a ``value`` of ``option`` that is not one of ``choices``."""
    if value not in choices:
        raise ConfigError(
            "command line", option, f"unknown value {value!r}", f"use {' or '.join(choices)}"
        )


def fetch_with_progress(platform: str) -> Prebuilt:
    """Google's prebuilt benchmark_model for ``platform`` into the user cache, showing a
    progress bar; FetchError saying how to get it otherwise."""
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    from farm.runners.benchmark_model.prebuilt import fetch_prebuilt, prebuilt_url

    columns = (*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, transient=False) as progress:
        task = progress.add_task(f"{platform}_benchmark_model", total=None)

        def advance(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        progress.console.print(f"fetching {prebuilt_url(platform)}")
        return fetch_prebuilt(platform, progress=advance, again=True)
