"""Delegation: how much of the graph each applied delegate took, as far as the log says."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from farm.runners.benchmark_model.lines import Line, integer
from farm.runners.benchmark_model.records import DelegateCoverage

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


# LiteRT's CompiledModel (its benchmark_model on a phone, the Python wheel here: the same
# runtime) says what the NPU took in two lines: the compiler plugin's partitioning, per
# subgraph, "Partitioned subgraph<0>, selected 12 ops, from a total of 12 ops. resulted in 1
# partitions." (litert/compiler/plugin/compiler_plugin.cc; Google's own apply_plugin.py reads
# it with the same pattern), then "1 compiler plugins were applied successfully: ..."
# (litert/runtime/compiled_model.cc). Partitioned is not compiled: with "0 compiler plugins
# were applied" every op ran on the CPU, while the runtime still calls it fully accelerated.
_NPU_PARTITIONED = re.compile(
    r"Partitioned subgraph<[0-9]+>, selected ([0-9]+) ops, from a total of ([0-9]+) ops\. "
    r"resulted in ([0-9]+) partitions"
)
_PLUGINS_APPLIED = re.compile(r"([0-9]+) compiler plugins were applied successfully")


def parse_npu_placement(lines: Sequence[Line]) -> tuple[DelegateCoverage, ...]:
    """The NPU's share of the graph from LiteRT's log (none when it says nothing of one)."""
    found = [m for line in lines if (m := _NPU_PARTITIONED.search(line.text))]
    if not found:
        return ()
    applied = sum(int(m[1]) for line in lines if (m := _PLUGINS_APPLIED.search(line.text)))
    selected, total, partitions = (sum(int(m[i]) for m in found) for i in (1, 2, 3))
    if not applied:
        return (DelegateCoverage("NPU", 0, total, 0, None, False),)
    return (DelegateCoverage("NPU", selected, total, partitions, None, selected == total),)
