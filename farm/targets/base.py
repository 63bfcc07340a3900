"""The Target seam: five methods every transport implements, and the record `run` returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class CommandResult:
    """What a command on a device did; stderr is merged into stdout on transports that merge."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str = ""
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def tail(self, chars: int = 400) -> str:
        """The end of what the command printed, for a reason line."""
        text = (self.stderr + "\n" + self.stdout).strip()
        return " ".join(text[-chars:].split())


class Target(Protocol):
    """One device, reached over one transport. Conveniences are functions over these five."""

    name: str
    workdir: str

    def push(self, local: str, remote: str) -> None: ...

    def pull(self, remote: str, local: str) -> None: ...

    def run(self, argv: list[str], timeout_s: float) -> CommandResult: ...

    def describe(self) -> dict[str, Any]: ...

    def close(self) -> None: ...
