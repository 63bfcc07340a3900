"""Delegation: how much of the graph each applied delegate took, as far as the log says."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from farm.runners.benchmark_model.lines import Line, integer
from farm.runners.benchmark_model.records import DelegateCoverage
from farm.runners.litert_runner.accelerator_log import npu_split

# The tool's verdict per explicitly applied delegate (TF >= 2.3, vendor forks alike):
# "Explicitly applied GPU delegate, and the model graph will be completely executed by the
# delegate." / "... partially executed by the delegate w/ 3 delegate kernels."
_DELEGATE_APPLIED = re.compile(
    r"Explicitly applied (\S+) delegate, and the model graph will be (completely|partially) "
    r"executed by the delegate(?: w/ ([0-9]+) delegate kernels)?"
)
# Printed exactly when the delegate got zero kernels (BenchmarkTfLiteModel::Init).
_DELEGATE_UNUSED = re.compile(
    r"Though (\S+) delegate is explicitly applied, the model graph will not be executed"
)
# The runtime's own line, per subgraph (all 2.x, often at VERBOSE): "Replacing 49 out of 49
# node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 1 partitions for subgraph 0."
_DELEGATE_REPLACING = re.compile(
    r"Replacing ([0-9]+) out of ([0-9]+) node\(s\) with delegate \((.+?)\) node, "
    r"yielding ([0-9]+) partitions"
)
# Runtime kernel names of the built-in delegates, so that a default XNNPACK "Replacing" line
# is not credited to the GPU delegate applied after it. External delegates name themselves.
_KERNEL_OWNERS = {
    "TfLiteXNNPackDelegate": "XNNPACK",
    "TfLiteGpuDelegateV2": "GPU",
    "TfLiteGpuDelegate": "GPU",
    "TfLiteNnapiDelegate": "NNAPI",
    "TfLiteHexagonDelegate": "Hexagon",
}


def parse_delegates(lines: Sequence[Line]) -> tuple[DelegateCoverage, ...]:
    """One entry per applied delegate; its runtime "Replacing" lines merged into it."""
    coverage: list[DelegateCoverage] = []
    pending: list[DelegateCoverage] = []  # "Replacing" lines no verdict line has claimed yet
    for line in lines:
        if (runtime := _runtime_coverage(line.text)) is not None:
            pending.append(runtime)
        elif (applied := _applied_coverage(line.text)) is not None:
            mine = [entry for entry in pending if _belongs_to(entry, applied)]
            coverage += [entry for entry in pending if not _belongs_to(entry, applied)]
            coverage.append(_merge(applied, mine))
            pending = []
    return tuple(coverage + pending)


def _runtime_coverage(text: str) -> DelegateCoverage | None:
    match = _DELEGATE_REPLACING.search(text)
    if match is None:
        return None
    delegated, total, partitions = integer(match[1]), integer(match[2]), integer(match[4])
    return DelegateCoverage(match[3], delegated, total, partitions, None, delegated == total)


def _applied_coverage(text: str) -> DelegateCoverage | None:
    if match := _DELEGATE_APPLIED.match(text):
        full = match[2] == "completely"
        return DelegateCoverage(match[1], kernels=integer(match[3]), fully_delegated=full)
    if match := _DELEGATE_UNUSED.match(text):
        return DelegateCoverage(match[1], kernels=0, fully_delegated=False)
    return None


def _belongs_to(runtime: DelegateCoverage, applied: DelegateCoverage) -> bool:
    owner = _KERNEL_OWNERS.get(runtime.name)
    return applied.kernels != 0 and owner in (None, applied.name)


def _merge(applied: DelegateCoverage, runtime: list[DelegateCoverage]) -> DelegateCoverage:
    """Add the per-subgraph runtime counts into the verdict line's entry."""
    if not runtime:
        return applied
    return replace(
        applied,
        nodes_delegated=_total([entry.nodes_delegated for entry in runtime]),
        nodes_total=_total([entry.nodes_total for entry in runtime]),
        partitions=_total([entry.partitions for entry in runtime]),
    )


def _total(values: list[int | None]) -> int | None:
    return None if None in values else sum(value or 0 for value in values)


def parse_npu_placement(lines: Sequence[Line]) -> tuple[DelegateCoverage, ...]:
    """The NPU's share of the graph from LiteRT's log (none when it says nothing of one): the
    runner's own reading (``accelerator_log.npu_split``), partitioned is not compiled."""
    split = npu_split("\n".join(line.text for line in lines))
    if split is None:
        return ()
    (selected, total, partitions), applied = split
    if not applied:
        return (DelegateCoverage("NPU", 0, total, 0, None, False),)
    return (DelegateCoverage("NPU", selected, total, partitions, None, selected == total),)
