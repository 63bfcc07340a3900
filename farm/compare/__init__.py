"""`farm compare BASE NEW`: two result sets → per-cell verdicts with confidence intervals.

    load_result_set(path)            a run directory or a results .parquet → DataFrame
    compare_runs(base, new, ...)     → Comparison (rows of CellComparison, exit_code)
    to_table / to_json / to_markdown the terminal, machines, CI comments

The method (a block bootstrap of the ratio of medians) and why: ``farm.compare.stats``.
Comparability (runtime, model sha256, device fingerprint): ``farm.compare.keys``.
Exit codes and their precedence (4 > 3 > 5 > 6 > 0): ``farm.compare.comparison``.
How serious a verdict is, one order for `farm compare` and the dashboard: ``farm.compare.severity``.
"""

from farm.compare.comparison import (
    EXIT_INFRA_ONLY,
    EXIT_OK,
    EXIT_PARITY_BROKEN,
    EXIT_REGRESSION,
    CellComparison,
    Comparison,
    Verdict,
)
from farm.compare.load import load_result_set
from farm.compare.report import from_json, to_json, to_markdown, to_table
from farm.compare.verdict import compare_runs

__all__ = [
    "EXIT_INFRA_ONLY",
    "EXIT_OK",
    "EXIT_PARITY_BROKEN",
    "EXIT_REGRESSION",
    "CellComparison",
    "Comparison",
    "Verdict",
    "compare_runs",
    "from_json",
    "load_result_set",
    "to_json",
    "to_markdown",
    "to_table",
]
