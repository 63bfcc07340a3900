"""Parse what TensorFlow Lite's / LiteRT's ``benchmark_model`` prints into a `BenchmarkParse`.

Real outputs differ by tool version, vendor fork and how they were captured (plain stdout,
Android logcat, documentation with indentation); tests/data/benchmark_model_logs/ holds real
ones. Every line is first stripped of its capture and severity prefixes (`lines`), then each
concept is read by its own module: `summary` (the timing summary and stat lines), `memory`,
`delegation`, `op_profile`, and the errors and status here. Nothing here raises: what is not
in the text stays ``None``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from farm.runners.benchmark_model.delegation import parse_delegates, parse_npu_placement
from farm.runners.benchmark_model.lines import Line, split_lines
from farm.runners.benchmark_model.memory import parse_memory
from farm.runners.benchmark_model.op_profile import parse_op_profile
from farm.runners.benchmark_model.records import BenchmarkParse, Status
from farm.runners.benchmark_model.summary import parse_stat_lines, parse_summary

# Failure lines that may carry no ERROR tag: the tool's verdict ("Benchmarking failed.", bare
# in 2.4, ERROR-tagged later), delegate set-up failures (the Hexagon provider only WARNs and
# falls back to CPU: "Could not create Hexagon delegate: ..."), and what the shell or Android
# prints when the process dies.
_FAILURE_TEXT = re.compile(
    r"Benchmarking failed|Could not create \S+ delegate|Failed to (?:apply|create|allocate|"
    r"invoke|load|mmap|construct|initialize|prepare|build)\b|Segmentation fault|Aborted|"
    r"Bus error|Illegal instruction|Floating point exception|Fatal signal [0-9]+|"
    r"terminate called"
)
_TOOL_FAILED = re.compile(r"Benchmarking failed")


def _first_error(lines: Sequence[Line]) -> str | None:
    for line in lines:
        if line.level in ("E", "F") or _FAILURE_TEXT.match(line.text):
            return line.raw
    return None


def _status(has_summary: bool, error: str | None, lines: Sequence[Line]) -> Status:
    if any(_TOOL_FAILED.match(line.text) for line in lines):
        return "failed"
    if has_summary:
        return "ok"
    return "failed" if error is not None else "incomplete"


def parse_benchmark_model_output(text: str) -> BenchmarkParse:
    """Read one ``benchmark_model`` output (any TF / LiteRT version); never raises.

    Times come out in microseconds (LiteRT's milliseconds converted), memory in MB. A value
    the text does not print is ``None``: nothing is derived from another line.
    """
    lines = split_lines(text)
    summary = parse_summary(lines) or {}
    error = _first_error(lines)
    warmup, inference = parse_stat_lines(lines)
    # The classic count= lines are in µs as printed; LiteRT's block rounds to 10 µs.
    litert_warmup, litert_inference = (
        summary.pop("litert_warmup", None),
        summary.pop("litert_inference", None),
    )
    warmup, inference = warmup or litert_warmup, inference or litert_inference
    return BenchmarkParse(
        status=_status(bool(summary), error, lines),
        error=error,
        **summary,
        warmup=warmup,
        inference=inference,
        **parse_memory(lines),
        delegates=parse_delegates(lines) + parse_npu_placement(lines),
        op_profile=parse_op_profile(lines),
    )
