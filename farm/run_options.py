"""Check the settings a run was asked for (`farm run`'s options, the pytest plugin's) before
anything is made: each problem is one ConfigError naming the option and the fix (exit 2), and
no run folder is left behind for a run that never started."""

from __future__ import annotations

import difflib
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path

from farm.errors import ConfigError
from farm.spec import DELEGATES, RunSettings

WHERE = "command line"
# subprocess waits for a runner through poll(2), whose timeout is milliseconds in a C int:
# past 2**31 ms (24.8 days) Python raises OverflowError ("timeout is too large"). A week is
# longer than any cell or lock wait should take, and far from that limit.
MAX_WAIT_S = 7 * 86400
# numpy's legacy seeding (np.random.seed / RandomState) takes 0 <= seed < 2**32.
SEED_RANGE = range(2**32)


def check_run_options(settings: RunSettings, run_dir: Path | None) -> None:
    """Refuse what would fail every cell, or end in a traceback after the run folder exists."""
    check_delegates(settings.delegates)
    check_threads(settings.threads)
    check_wait("--timeout", settings.timeout_s)
    check_wait("--lock-timeout", settings.lock_timeout_s)
    min_seconds, timeout_s, seed = settings.min_seconds, settings.timeout_s, settings.seed
    if not math.isfinite(min_seconds) or min_seconds > timeout_s:
        raise ConfigError(
            WHERE,
            "--min-seconds",
            f"{min_seconds:g} s of timing cannot fit in a cell's --timeout of {timeout_s:g} s",
            "lower --min-seconds or raise --timeout",
        )
    if seed is not None and seed not in SEED_RANGE:
        raise ConfigError(WHERE, "--seed", f"{seed} is out of range", "use 0 to 4294967295")
    if run_dir is not None:
        check_run_dir(run_dir)


def check_delegates(delegates: Sequence[str] | None) -> None:
    """Each delegate one the farm knows (the list devices.yaml is validated against)."""
    for name in delegates or ():
        if name not in DELEGATES:
            close = difflib.get_close_matches(name, DELEGATES, n=1)
            fix = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(DELEGATES)}"
            raise ConfigError(WHERE, "--delegates", f"unknown delegate {name!r}", fix)


def check_threads(threads: Sequence[int] | None) -> None:
    for count in threads or ():
        if count < 1:
            raise ConfigError(
                WHERE, "--threads", f"{count} threads cannot run a cell", "use 1 or more, e.g. 1,2"
            )


def check_wait(option: str, seconds: float) -> None:
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_WAIT_S:
        raise ConfigError(
            WHERE, option, f"{seconds:g} s is not a usable wait", f"use 0 to {MAX_WAIT_S} seconds"
        )


def check_run_dir(run_dir: Path) -> None:
    """The run folder is a folder, or can be made: a file there, or a place this user cannot
    write, is refused now rather than after the first cell."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(
            WHERE, "--run-dir", f"{run_dir} is a file, not a folder", "pass a folder path"
        )
    existing = next(p for p in (run_dir, *run_dir.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise ConfigError(
            WHERE, "--run-dir", f"{existing} is a file, not a folder", "pass a folder path"
        )
    try:  # os.access says yes to root on a read-only mount: try it, leave nothing behind
        Path(tempfile.mkdtemp(prefix=".farm-probe-", dir=existing)).rmdir()
    except OSError as exc:
        raise ConfigError(
            WHERE,
            "--run-dir",
            f"cannot write in {existing}: {exc.strerror}",
            "pass a folder you can write to",
        ) from exc
