"""How a cell ends early: a status other than ok, its failure kind and the reason."""

from __future__ import annotations


class CellOutcome(Exception):
    """Ends the cell early with a status other than ok."""

    def __init__(self, status: str, kind: str | None, reason: str) -> None:
        super().__init__(reason)
        self.status, self.kind, self.reason = status, kind, reason


def reason_of(exc: BaseException) -> str:
    """An exception as a one-line reason (runtimes put newlines and padding in theirs)."""
    text = " ".join(str(exc).split())
    return text[:2000] or type(exc).__name__
