"""How serious a compared cell's verdict is, one order for `farm compare` and the dashboard.

A broken answer comes first, then a regression, then an infra failure in the new run (unless
the cell is also slower), a cell that cannot be compared, an improvement, and no change.
"""

from __future__ import annotations

ORDER = ("parity broken", "slower", "infra failure", "not comparable", "faster", "same")


def shown_verdict(verdict: str, parity_broken: bool, infra_failure: bool) -> str:
    """The verdict a reader should see first: a broken answer or a new infra failure outranks
    the latency verdict, except that a slower cell stays slower."""
    if parity_broken:
        return "parity broken"
    if infra_failure and verdict != "slower":
        return "infra failure"
    return verdict


def severity(verdict: str, parity_broken: bool, infra_failure: bool) -> int:
    """0 for the most serious; unknown verdicts last."""
    shown = shown_verdict(verdict, parity_broken, infra_failure)
    return ORDER.index(shown) if shown in ORDER else len(ORDER)


def count_line(shown: list[str]) -> str:
    """`24 infra failure, 12 not comparable`: the shown verdicts' counts, in ORDER (the same
    words in `farm compare`'s summary and the dashboard's)."""
    return ", ".join(f"{shown.count(v)} {v}" for v in ORDER if shown.count(v))
