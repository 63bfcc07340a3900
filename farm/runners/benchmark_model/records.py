"""What the parser returns: frozen records of one ``benchmark_model`` output, times in µs."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Status = Literal["ok", "failed", "incomplete"]


@dataclass(frozen=True)
class StatLine:
    """One ``count=.. first=.. curr=..`` line: the warm-up or the timed runs, in microseconds."""

    count: int | None = None
    first_us: float | None = None
    curr_us: float | None = None
    min_us: float | None = None
    max_us: float | None = None
    avg_us: float | None = None
    std_us: float | None = None
    p5_us: float | None = None
    median_us: float | None = None
    p95_us: float | None = None


@dataclass(frozen=True)
class DelegateCoverage:
    """How much of the graph one delegate took, as far as the log says."""

    name: str
    nodes_delegated: int | None = None
    nodes_total: int | None = None
    partitions: int | None = None
    kernels: int | None = None
    fully_delegated: bool | None = None


@dataclass(frozen=True)
class OpProfileRow:
    """One row of an op-profiling "Run Order" table; the tool prints ms, stored here as µs.

    ``phase`` is ``init`` or ``run`` when the log names the profiler block, else ``None``.
    """

    phase: str | None
    node_type: str
    name: str
    start_us: float | None
    first_us: float | None
    avg_us: float | None
    percent: float | None
    cdf_percent: float | None
    mem_kb: float | None
    times_called: int | None


@dataclass(frozen=True)
class BenchmarkParse:
    """Everything read from one ``benchmark_model`` output; ``to_dict`` is `farm parse-log`'s JSON.

    ``status`` is ``ok`` when a final timing summary was found, ``failed`` when the tool said
    it failed (or printed an error and no summary), ``incomplete`` otherwise. ``format`` names
    the summary found: ``classic`` (TF 2.x), ``legacy`` (TF 1.x-2.3), ``litert``, or None.
    """

    status: Status
    error: str | None = None
    format: str | None = None
    init_us: float | None = None
    first_inference_us: float | None = None
    warmup_avg_us: float | None = None
    inference_avg_us: float | None = None
    warmup: StatLine | None = None
    inference: StatLine | None = None
    memory_init_mb: float | None = None
    memory_overall_mb: float | None = None
    memory_peak_mb: float | None = None
    throughput_mb_s: float | None = None  # LiteRT: input bytes per second of inference
    signature: str | None = None  # LiteRT: the signature it ran
    delegates: tuple[DelegateCoverage, ...] = ()
    op_profile: tuple[OpProfileRow, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of issue 3: the fields in order, lists for the sequences."""
        out = asdict(self)
        out["delegates"] = list(out["delegates"])
        if out["op_profile"] is not None:
            out["op_profile"] = list(out["op_profile"])
        return out
