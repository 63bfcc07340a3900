"""The farm's exception tree. Every error the farm raises on purpose is one of these.

    FarmError                      exit_code 1
    ├── ConfigError                exit_code 2   bad devices.yaml / models.yaml / CLI paths
    │                                            (carries file, key path and the fix)
    ├── TargetError                exit_code 1   reaching a device failed: an ``infra`` failure
    │   ├── TargetTimeout                        a command ran past its budget and was killed
    │   ├── DeviceUnavailable                    offline, unauthorized, serial not found, host down
    │   ├── HostKeyError                         host key unknown or changed (never retried)
    │   ├── DeviceBusy                           another run holds the device's lock (in
    │   │                                        farm.targets.lock, beside the lock)
    │   └── WaitInterrupted                      interrupted while waiting for that lock (idem)
    ├── RunnerError                exit_code 1   the runner ran but its output is unusable
    │   └── FetchError                           an official benchmark_model could not be fetched
    │                                            (nothing written; says how to place one by hand)
    └── RunDirFull                 exit_code 1   the host's run folder is on a full disk: the run
                                                 stops, its journal keeps what finished

Exit codes of `farm` (the README's table), defined here and only here: 0 ok; 1 a cell failed (or
a FarmError); 2 bad input (ConfigError); 3 a regression and 4 parity newly broken (`farm compare`,
`farm nightly`); 5 only infrastructure failures in NEW (compare); 6 nothing measured or compared;
130 Ctrl-C; 143 SIGTERM.

A failed *cell* is never an exception that escapes the orchestrator: it is a result row with a
``failure_kind`` and a ``reason``. These exceptions cross module boundaries; the orchestrator turns
them into rows and the CLI turns what reaches it into exit codes (``exit_code`` on each class).
"""

from __future__ import annotations

import errno

_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
EXIT_OK, EXIT_CELL_FAILED = 0, 1
# `farm compare` / `farm nightly`, most serious first: 4 > 3 > 5 (see farm.compare.comparison).
EXIT_REGRESSION, EXIT_PARITY_BROKEN, EXIT_INFRA_ONLY = 3, 4, 5
# Nothing was measured or compared: a run whose every cell was skipped, a comparison with no
# cell measured in both runs. Not 0: a CI gate must not go green having checked nothing.
EXIT_NOTHING_CHECKED = 6
# 128 + the signal's number, as a shell reports a process the signal killed; SIGTERM (a CI job
# cancelled) is handled exactly as Ctrl-C, only its code differs.
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143


class FarmError(Exception):
    """Base of every error the farm raises on purpose."""

    exit_code = 1


class ConfigError(FarmError):
    """Invalid input: a config file, a key in it, or a path given on the command line.

    ``str(error)`` is one line naming the file, the key path and the fix.
    """

    exit_code = 2

    def __init__(self, file: str, key: str, problem: str, fix: str = "") -> None:
        self.file, self.key, self.problem, self.fix = file, key, problem, fix
        where = f"{file}: {key}: " if key else f"{file}: "
        super().__init__(where + problem + (f" ({fix})" if fix else ""))


class TargetError(FarmError):
    """A device could not be reached or driven; the cell fails as ``infra``."""

    def __init__(self, device: str, message: str) -> None:
        self.device, self.message = device, message
        super().__init__(f"{device}: {message}")


class TargetTimeout(TargetError):
    """A command on a device ran past its budget; the remote process was killed."""

    def __init__(self, device: str, argv: list[str], timeout_s: float) -> None:
        self.argv, self.timeout_s = argv, timeout_s
        super().__init__(device, f"timed out after {timeout_s:g} s: {argv[0] if argv else ''}")


class DeviceUnavailable(TargetError):
    """The device is offline, unauthorized, unknown to the transport, or its host is down."""


class HostKeyError(TargetError):
    """The device's host key is unknown or changed: a security stop, never retried."""


class RunnerError(FarmError):
    """The runner ran, but what it printed or wrote cannot be used as a result."""

    def __init__(self, message: str, output: str = "") -> None:
        self.output = output
        super().__init__(message)


class FetchError(RunnerError):
    """An official prebuilt ``benchmark_model`` could not be downloaded or was refused (HTTP
    error, cut short, an HTML page, the wrong ABI); the message says how to get one by hand."""


class RunDirFull(FarmError):
    """The disk holding the run folder is full: the run stopped, no new cell started. The
    journal holds every cell that finished before; `farm run --resume` runs the rest."""

    def __init__(self, path: str | None, run_dir: str, free_mb: float | None) -> None:
        self.path, self.run_dir, self.free_mb = path, run_dir, free_mb
        free = f"{free_mb:.1f} MB free" if free_mb is not None else "free space unknown"
        writing = f" writing {path}" if path else ""
        super().__init__(
            f"no space left on the disk of {run_dir} ({free}){writing}: the run stopped "
            f"and its journal keeps every finished cell; free some space, then "
            f"`farm run --resume {run_dir}`"
        )


def disk_full(exc: BaseException) -> bool:
    """An OSError for a full disk (or a used-up quota)."""
    return isinstance(exc, OSError) and exc.errno in _DISK_FULL
