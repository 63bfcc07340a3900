"""A target that answers from a handler, for the orchestrator's unit tests (a dry run opens none).

Like httpx's MockTransport: the fake ships with the package, and tests build behaviour by
passing a function instead of patching internals. Files live in a dict keyed by remote path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from farm.errors import TargetError
from farm.targets.base import CommandResult
from farm.targets.lock import RECORD_SCRIPT

FAKE_RUNNER_PID = 4242  # what the device lock records for a runner the handler answers
Handler = Callable[["FakeTarget", list[str]], CommandResult]


class FakeTarget:
    """A device made of a handler (what commands do) and a dict of files (what is on it)."""

    def __init__(self, name: str, handler: Handler, workdir: str = "/fake/farm") -> None:
        self.name = name
        self.workdir = workdir
        self.handler = handler
        self.files: dict[str, bytes] = {}
        self.commands: list[list[str]] = []
        self.pushed_bytes = 0
        self.closed = False

    def push(self, local: str, remote: str) -> None:
        data = Path(local).read_bytes()
        self.files[remote] = data
        self.pushed_bytes += len(data)

    def pull(self, remote: str, local: str) -> None:
        if remote not in self.files:
            raise TargetError(self.name, f"no such file on device: {remote}")
        Path(local).write_bytes(self.files[remote])

    def run(self, argv: list[str], timeout_s: float) -> CommandResult:
        if argv[:3] == ["sh", "-c", RECORD_SCRIPT]:  # as the shell would: record, then exec
            self.files[f"{argv[4]}/runner"] = b"%d\n" % FAKE_RUNNER_PID
            argv = argv[5:]
        self.commands.append(list(argv))
        return self.handler(self, list(argv))

    def describe(self) -> dict[str, Any]:
        return {"transport": "fake", "model": "fake device"}

    def close(self) -> None:
        self.closed = True


def argv_value(argv: list[str], flag: str) -> str | None:
    """The value after ``flag`` in an argv, or None (for handlers that read runner arguments)."""
    return argv[argv.index(flag) + 1] if flag in argv[:-1] else None
