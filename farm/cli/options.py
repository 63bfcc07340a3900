"""What several `farm` commands share: the inventory and models options, and reading
comma-separated and one-of option values into a ``ConfigError`` that names the option."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from farm.errors import ConfigError

DevicesOption = Annotated[
    Path, typer.Option("--devices", "-d", help="The lab inventory (devices.yaml).")
]
ModelsOption = Annotated[
    Path, typer.Option("--models", "-m", help="A models.yaml, or a folder of .tflite files.")
]


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
