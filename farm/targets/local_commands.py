"""The file commands the farm runs on every device (staging, locks), answered in-process on
this host: each would otherwise start a process (3 ms), and a 24-cell run on the host issues
about thirty of them, a third of its orchestration overhead. Same argv, exit codes and output
as the coreutils they stand for, for the forms the farm uses; anything else returns None and
runs as a real process."""

from __future__ import annotations

import functools
import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

from farm.targets.base import CommandResult

Answer = tuple[int, str, str]  # exit code, stdout, stderr


def run_in_process(argv: list[str], cwd: str) -> CommandResult | None:
    """The command's result, or None when it is not one answered here."""
    handler = _HANDLERS.get(tuple(argv[:2])) or _HANDLERS.get((argv[0],) if argv else ())
    operands = argv[2:] if tuple(argv[:2]) in _HANDLERS else argv[1:]
    if handler is None or not operands or any(o.startswith("-") for o in operands):
        return None
    code, out, err = 0, "", ""
    for operand in operands:
        result = handler(Path(cwd, operand), operand)
        code, out, err = max(code, result[0]), out + result[1], err + result[2]
    return CommandResult(tuple(argv), code, out, err, 0.0)


def _sha256sum(path: Path, shown: str) -> Answer:
    try:
        with path.open("rb") as file:
            return 0, f"{hashlib.file_digest(file, 'sha256').hexdigest()}  {shown}\n", ""
    except OSError as exc:
        return 1, "", f"sha256sum: {shown}: {exc.strerror}\n"


def _mkdir(path: Path, shown: str) -> Answer:
    return _done(path.mkdir, f"mkdir: cannot create directory '{shown}'")


def _mkdir_parents(path: Path, shown: str) -> Answer:
    make = functools.partial(path.mkdir, parents=True, exist_ok=True)
    return _done(make, f"mkdir: cannot create directory '{shown}'")


def _rm_recursive_force(path: Path, shown: str) -> Answer:
    return _done(lambda: _remove(path), f"rm: cannot remove '{shown}'")


def _touch(path: Path, shown: str) -> Answer:
    return _done(path.touch, f"touch: cannot touch '{shown}'")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _done(action: Callable[[], object], failure: str) -> Answer:
    """Exit 0 when ``action`` succeeds, else 1 with the tool's message and the OS's reason."""
    try:
        action()
    except OSError as exc:
        return 1, "", f"{failure}: {exc.strerror}\n"
    return 0, "", ""


_HANDLERS: dict[tuple[str, ...], Callable[[Path, str], Answer]] = {
    ("sha256sum",): _sha256sum,
    ("mkdir",): _mkdir,
    ("mkdir", "-p"): _mkdir_parents,
    ("rm", "-rf"): _rm_recursive_force,
    ("touch",): _touch,
}
