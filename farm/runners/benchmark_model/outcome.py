"""A parsed ``benchmark_model`` output as the orchestrator's `RunnerOutcome` for one cell."""

from __future__ import annotations

import signal
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from farm.runners.benchmark_model.records import BenchmarkParse, DelegateCoverage
from farm.runners.outcome import RunnerOutcome


def benchmark_outcome(
    parse: BenchmarkParse,
    delegate: str,
    output_tail: str,
    returncode: int = 0,
    graph_nodes: int | None = None,
) -> RunnerOutcome:
    """A parsed ``benchmark_model`` output as the orchestrator's outcome for one cell.

    A run killed by a signal before its summary (a delegate's SIGSEGV, as in the Edge TPU
    client's) fails like a failure the tool reported: it is the model's or the delegate's, and
    running it again gives the same crash, so it is not an infra failure to retry.

    ``graph_nodes`` (the main subgraph's operators, read from the model on the host) counts a
    delegate the tool says runs the "complete" graph, where the log has no runtime counts."""
    kind = "model" if delegate in ("cpu", "xnnpack") else "delegate"
    crash = _signal_name(returncode)
    if parse.status != "ok" and crash:
        return RunnerOutcome(
            "failed", kind, f"benchmark_model was killed by {crash}: {output_tail}"
        )
    if parse.status == "failed":
        return RunnerOutcome("failed", kind, parse.error or output_tail)
    if parse.status != "ok":
        return RunnerOutcome("failed", "infra", f"no timing summary in the output: {output_tail}")
    npu = _coverage_of(parse.delegates, "npu")
    if delegate == "npu" and not (npu and npu.nodes_delegated):
        # The CPU is the fallback of every LiteRT NPU run: a run whose log shows no op compiled
        # for the NPU measured the CPU (a TFLite benchmark_model ignores --use_npu altogether).
        reason = (
            "silent CPU fallback: npu took no op (no NPU partition compiled in LiteRT's log; "
            "TFLite's benchmark_model ignores --use_npu, LiteRT's runs it)"
        )
        return RunnerOutcome("failed", "fallback", f"{reason}: {output_tail}")
    metrics = _metrics(parse, delegate, graph_nodes)
    return RunnerOutcome("ok", None, None, (), metrics, _latency(parse))


def _metrics(parse: BenchmarkParse, delegate: str, graph_nodes: int | None) -> dict[str, Any]:
    metrics: dict[str, Any] = {
        "init_ms": _ms(parse.init_us),
        "first_inference_ms": _ms(parse.first_inference_us),
        "warmup_ms": _ms(parse.warmup_avg_us),
        # The periodic monitor's peak is the process peak; the "footprint delta" lines are not.
        "peak_rss_mb": parse.memory_peak_mb,
    }
    coverage = _coverage_of(parse.delegates, delegate)
    if coverage is None and delegate == "cpu" and not parse.delegates and graph_nodes:
        # --use_xnnpack=false and no delegate flag: the builtin kernels run every node
        coverage = DelegateCoverage("cpu", 0, graph_nodes, 0, 0, False)
    if coverage is not None:
        coverage = _counted(coverage, graph_nodes)
        metrics.update(
            nodes_delegated=coverage.nodes_delegated,
            nodes_total=coverage.nodes_total,
            partitions=coverage.partitions,
            fully_delegated=coverage.fully_delegated,
        )
    return metrics


def _counted(coverage: DelegateCoverage, graph_nodes: int | None) -> DelegateCoverage:
    """Release builds off Android log no "Replacing N out of M node(s)" line (it is VERBOSE,
    below their INFO floor), so the tool's verdict is all there is: its delegate kernels are the
    partitions, and "completely executed" means one kernel took every node of the main subgraph
    (benchmark_tflite_model.cc), so the model's count is the delegate's. A partial verdict
    gives no node counts: they stay unknown."""
    if coverage.nodes_total is not None:
        return coverage
    if coverage.fully_delegated and graph_nodes:
        return replace(coverage, nodes_delegated=graph_nodes, nodes_total=graph_nodes, partitions=1)
    return replace(coverage, partitions=coverage.kernels)


def _latency(parse: BenchmarkParse) -> dict[str, float | int | None]:
    stat = parse.inference
    if stat is None:
        return {"latency_mean_ms": _ms(parse.inference_avg_us)}
    return {
        "latency_mean_ms": _ms(stat.avg_us if stat.avg_us is not None else parse.inference_avg_us),
        "latency_median_ms": _ms(stat.median_us),
        "latency_p5_ms": _ms(stat.p5_us),
        "latency_p95_ms": _ms(stat.p95_us),
        "latency_min_ms": _ms(stat.min_us),
        "latency_max_ms": _ms(stat.max_us),
        "latency_std_ms": _ms(stat.std_us),
        "latency_count": stat.count,
    }


def _coverage_of(entries: Sequence[DelegateCoverage], delegate: str) -> DelegateCoverage | None:
    # Names vary by tool version ("GPU", "TfLiteGpuDelegateV2", "EXTERNAL", "NNAPI"...).
    for entry in entries:
        name = entry.name.lower()
        if delegate in name or (delegate == "external" and "xnnpack" not in name):
            return entry
    return None


def _signal_name(returncode: int) -> str | None:
    """``signal 11 (SIGSEGV)`` for a shell's exit status 128+N (or a negative Popen code)."""
    number = -returncode if returncode < 0 else returncode - 128 if 128 < returncode < 160 else 0
    if not number:
        return None
    try:
        return f"signal {number} ({signal.Signals(number).name})"
    except ValueError:
        return f"signal {number}"


def _ms(us: float | None) -> float | None:
    return None if us is None else us / 1000.0
