"""Compile the C test delegates with the system C compiler.

The sources use their own mirrors of the TFLite C structs, so no TensorFlow headers or
libraries are needed: a plain ``cc`` builds a ``.so`` that LiteRT loads as an external
delegate.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

SOURCES = Path(__file__).resolve().parent
TEST_DELEGATE_SOURCE = SOURCES / "farm_test_delegate.c"
NO_ENTRY_POINTS_SOURCE = SOURCES / "no_entry_points.c"
# A shared library, position-independent; -Werror keeps the struct mirrors honest.
CFLAGS = ("-shared", "-fPIC", "-O2", "-Wall", "-Werror")


class DelegateBuildError(RuntimeError):
    """The compiler rejected a delegate source; carries the command and its stderr."""

    def __init__(self, command: list[str], returncode: int, stderr: str) -> None:
        super().__init__(f"{' '.join(command)} failed (exit {returncode}):\n{stderr}")
        self.command = command
        self.returncode = returncode
        self.stderr = stderr


def build_delegate(source: Path, out_dir: Path, *, compiler: str = "cc") -> Path:
    """Compile ``source`` into ``out_dir/<stem>.so``; warnings are errors."""
    library = out_dir / f"{source.stem}.so"
    command = [compiler, *CFLAGS, "-o", str(library), str(source), "-lm"]  # sqrt: libm
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DelegateBuildError(command, result.returncode, result.stderr)
    return library
