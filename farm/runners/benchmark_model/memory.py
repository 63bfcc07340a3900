"""Memory footprints, in MB, from the lines each tool version prints."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from farm.runners.benchmark_model.lines import Line, number

# init= / overall= pairs: "Peak memory footprint (MB): init=.. overall=.." (2.x up to ~2.4),
# "Memory footprint delta from the start of the tool (MB): init=.. overall=.." (later 2.x).
_MEMORY_PAIR = re.compile(
    r"(?:Peak memory footprint|Memory footprint delta from the start of the tool) \(MB\): "
    r"init=(\S+) overall=(\S+)"
)
# With --report_peak_memory_footprint (2.x): "Overall peak memory footprint (MB) via periodic
# monitoring: 180.1".
_MEMORY_PEAK = re.compile(r"Overall peak memory footprint \(MB\) via periodic monitoring: (\S+)")
# TF 1.x / early 2.x: "[Init Phase] - Memory usage: max resident set size = 3.4 MB, ...".
_MEMORY_LEGACY = re.compile(
    r"\[(Init Phase|Overall)\] - Memory usage: max resident set size = (\S+)"
)
# LiteRT (2025): "Init footprint: 8.94 MB", "Overall footprint: 11.51 MB", "Peak memory: 12 MB".
_MEMORY_LITERT = re.compile(r"(Init|Overall|Peak) (?:footprint|memory):\s+(\S+) MB")
_MEMORY_KEYS = {
    "Init Phase": "memory_init_mb",
    "Init": "memory_init_mb",
    "Overall": "memory_overall_mb",
    "Peak": "memory_peak_mb",
}


def parse_memory(lines: Sequence[Line]) -> dict[str, Any]:
    """The ``memory_*_mb`` fields the output prints; a later line overrides an earlier one."""
    memory: dict[str, Any] = {}
    for line in lines:
        memory.update(_memory_values(line.text))
    return memory


def _memory_values(text: str) -> dict[str, float | None]:
    if match := _MEMORY_PAIR.match(text):
        return {"memory_init_mb": number(match[1]), "memory_overall_mb": number(match[2])}
    if match := _MEMORY_PEAK.match(text):
        return {"memory_peak_mb": number(match[1])}
    if match := _MEMORY_LEGACY.match(text) or _MEMORY_LITERT.match(text):
        return {_MEMORY_KEYS[match[1]]: number(match[2])}
    return {}
