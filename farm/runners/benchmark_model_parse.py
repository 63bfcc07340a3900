"""Parse what TensorFlow Lite's / LiteRT's ``benchmark_model`` prints into a `BenchmarkParse`.

Real outputs differ by tool version, vendor fork and how they were captured (plain stdout,
Android logcat, documentation with indentation); tests/data/benchmark_model_logs/ holds real
ones. Every line is first stripped of its capture and severity prefixes, then each concept
(summary, stat lines, memory, delegation, op-profile tables, errors) is read by its own small
function. Nothing here raises: what is not in the text stays ``None``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
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
    delegates: tuple[DelegateCoverage, ...] = ()
    op_profile: tuple[OpProfileRow, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of issue 3: the fields in order, lists for the sequences."""
        out = asdict(self)
        out["delegates"] = list(out["delegates"])
        if out["op_profile"] is not None:
            out["op_profile"] = list(out["op_profile"])
        return out


# --- lines and numbers ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    raw: str  # as printed, less indentation and the logcat prefix: what `error` reports
    text: str  # raw less the severity tag (and LiteRT's source location): what regexes read
    level: str | None  # V D I W E F, from the severity tag or the logcat priority


# Android logcat captures: `-v threadtime` ("05-30 15:16:46.366  3380  3380 I tflite  : ...")
# and `-v brief` / `-v time` ("I/tflite  ( 3380): ...").
_LOGCAT = re.compile(
    r"[0-9]{2}-[0-9]{2}\s+[0-9:.]+\s+[0-9]+\s+[0-9]+\s+(?P<threadtime>[VDIWEF])\s[^:]*:\s?"
    r"|(?:[0-9]{2}-[0-9]{2}\s+[0-9:.]+\s+)?(?P<brief>[VDIWEF])/[^(:]*\(\s*[0-9]+\):\s?"
)
# TFLITE_LOG's severity tag (TF >= 2.3: "INFO: ", "ERROR: ", "VERBOSE: " ...); LiteRT (2025)
# adds the source location: "INFO: [./litert/tools/benchmark_litert_model.h:82] ".
_SEVERITY = re.compile(
    r"(?P<level>INFO|WARNING|WARN|ERROR|VERBOSE|DEBUG|FATAL): ?(?:\[[^\]\s]+:[0-9]+\] ?)?"
)
_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def _split_lines(text: str) -> list[_Line]:
    return [_normalize(line) for line in text.splitlines()]


def _normalize(line: str) -> _Line:
    raw, level = line.strip(), None
    if logcat := _LOGCAT.match(raw):
        level = logcat["threadtime"] or logcat["brief"]
        raw = raw[logcat.end() :].strip()
    text = raw
    if severity := _SEVERITY.match(raw):
        level = severity["level"][0]
        text = raw[severity.end() :].strip()
    return _Line(raw, text, level)


def _number(token: str | None) -> float | None:
    """An int when printed as one (``2409``), else a float (``4.62513e+06``); junk → None."""
    if token is None or not _NUMBER.fullmatch(token):
        return None
    if token.lstrip("+-").isdigit() and len(token) <= 18:  # exact as an int, safe as a float
        return int(token)
    value = float(token)
    return value if math.isfinite(value) else None


def _int(token: str | None) -> int | None:
    try:
        return int(token) if token is not None else None
    except ValueError:  # not digits, or past Python's int-string length limit
        return None


def _ms_to_us(value: float | None) -> float | None:
    # round: 0.47 ms * 1000 is 470.00000000000006 in binary floating point.
    us = None if value is None else round(value * 1000, 3)
    return us if us is not None and math.isfinite(us) else None


# --- timing summary -------------------------------------------------------------------------

# TF 2.x: "Inference timings in us: Init: 2409, First inference: 169816, Warmup (avg): 164822,
# Inference (avg): 162980". TF 1.x-2.3: "Average inference timings in us: Warmup: 146161,
# Init: 4452, no stats: 137722" (1.12 names the timed runs by their stat name, "no stats";
# later legacy builds say "Inference"). No first inference in the legacy line.
_SUMMARY = re.compile(r"(?P<legacy>Average inference|Inference) timings in us: (?P<fields>.*)")
_SUMMARY_FIELD = re.compile(
    r"(Init|First inference|Warmup \(avg\)|Warmup|Inference \(avg\)|Inference|no stats): "
    r"([^,\s]+)"
)
_SUMMARY_KEYS = {
    "Init": "init_us",
    "First inference": "first_inference_us",
    "Warmup (avg)": "warmup_avg_us",
    "Warmup": "warmup_avg_us",
    "Inference (avg)": "inference_avg_us",
    "Inference": "inference_avg_us",
    "no stats": "inference_avg_us",
}
# LiteRT's benchmark_model (2025, CompiledModel API) ends with a block in milliseconds,
# "========== BENCHMARK RESULTS ==========" then "Model initialization: 4.48 ms",
# "Warmup (first): 1.03 ms", "Warmup (avg): 0.47 ms (1055 runs)", "Inference (avg): ...".
_LITERT_HEADER = re.compile(r"=+ BENCHMARK RESULTS =+")
_LITERT_FIELD = re.compile(
    r"(Model initialization|Warmup \(first\)|Warmup \(avg\)|Inference \(avg\)):\s+(\S+) ms"
)
_LITERT_KEYS = {
    "Model initialization": "init_us",
    "Warmup (first)": "first_inference_us",
    "Warmup (avg)": "warmup_avg_us",
    "Inference (avg)": "inference_avg_us",
}


def _parse_summary(lines: Sequence[_Line]) -> dict[str, Any] | None:
    """``format`` plus the four summary times in µs, or None when no final summary is there."""
    return _parse_litert_summary(lines) or _parse_classic_summary(lines)


def _parse_classic_summary(lines: Sequence[_Line]) -> dict[str, Any] | None:
    summary: dict[str, Any] | None = None
    for line in lines:
        if match := _SUMMARY.match(line.text):
            summary = {"format": "classic" if match["legacy"] == "Inference" else "legacy"}
            for key, value in _SUMMARY_FIELD.findall(match["fields"]):
                summary[_SUMMARY_KEYS[key]] = _number(value)
    return summary


def _parse_litert_summary(lines: Sequence[_Line]) -> dict[str, Any] | None:
    starts = [i for i, line in enumerate(lines) if _LITERT_HEADER.fullmatch(line.text)]
    if not starts:
        return None
    summary: dict[str, Any] = {"format": "litert"}
    for line in lines[starts[-1] + 1 :]:
        if match := _LITERT_FIELD.match(line.text):
            summary.setdefault(_LITERT_KEYS[match[1]], _ms_to_us(_number(match[2])))
    return summary if "inference_avg_us" in summary else None


# --- warm-up and timed-run stat lines -------------------------------------------------------

# Stat::OutputToStream, every version: "count=50 first=.. curr=.. min=.. max=.. avg=.. std=..";
# "count=N curr=X" when all samples were equal (with "(all same)" when N > 1); "count=0";
# newer builds (seen from 2.20 and LiteRT) append " p5=.. median=.. p95=..". Matched at the
# start of the line only: the op profiler's "Timings (microseconds): count=.." is not one.
_STAT_LINE = re.compile(r"count=([0-9]+)(?![0-9.])(.*)")
_STAT_FIELD = re.compile(r"\b(first|curr|min|max|avg|std|p5|median|p95)=([^\s(]+)")


def _parse_stat_lines(lines: Sequence[_Line]) -> tuple[StatLine | None, StatLine | None]:
    """(warm-up, timed runs): BenchmarkModel::Run always runs the warm-up loop first."""
    stats = [_stat_line(match) for line in lines if (match := _STAT_LINE.match(line.text))]
    return (stats[0] if stats else None, stats[1] if len(stats) > 1 else None)


def _stat_line(match: re.Match[str]) -> StatLine:
    values: dict[str, Any] = {
        f"{key}_us": _number(value) for key, value in _STAT_FIELD.findall(match[2])
    }
    return StatLine(count=_int(match[1]), **values)


# --- memory ---------------------------------------------------------------------------------

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


def _parse_memory(lines: Sequence[_Line]) -> dict[str, Any]:
    memory: dict[str, Any] = {}
    for line in lines:
        memory.update(_memory_values(line.text))
    return memory


def _memory_values(text: str) -> dict[str, float | None]:
    if match := _MEMORY_PAIR.match(text):
        return {"memory_init_mb": _number(match[1]), "memory_overall_mb": _number(match[2])}
    if match := _MEMORY_PEAK.match(text):
        return {"memory_peak_mb": _number(match[1])}
    if match := _MEMORY_LEGACY.match(text) or _MEMORY_LITERT.match(text):
        return {_MEMORY_KEYS[match[1]]: _number(match[2])}
    return {}


# --- delegation -----------------------------------------------------------------------------

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


def _parse_delegates(lines: Sequence[_Line]) -> tuple[DelegateCoverage, ...]:
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
    delegated, total, partitions = _int(match[1]), _int(match[2]), _int(match[4])
    return DelegateCoverage(match[3], delegated, total, partitions, None, delegated == total)


def _applied_coverage(text: str) -> DelegateCoverage | None:
    if match := _DELEGATE_APPLIED.match(text):
        full = match[2] == "completely"
        return DelegateCoverage(match[1], kernels=_int(match[3]), fully_delegated=full)
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


# --- op profiling ---------------------------------------------------------------------------

# --enable_op_profiling (all versions) prints, per profiler block, a "Run Order" table, a
# "Top by Computation Time" table with the same rows re-sorted, then a "Summary by node type"
# headed "[Node type]" (capital N), then "Timings (microseconds): count=..". Column headers
# are bracketed: "[node type] [start] [first] [avg ms] [%] [cdf%] [mem KB] [times called]
# [Name]" (LiteRT drops [start]); cells are tab-separated (space-aligned in some old docs).
_OP_TABLE_HEADER = re.compile(r"\[node type\]")
# 2.x names the blocks: "Profiling Info for Benchmark Initialization:" and
# "Operator-wise Profiling Info for Regular Benchmark Runs:".
_OP_PHASE = re.compile(r"(?:Operator-wise )?Profiling Info for (Benchmark Initialization|Regular)")
_OP_BLOCK_END = re.compile(r"Timings \(microseconds\):")
_OP_CELL_SEPARATOR = re.compile(r"\t| {2,}")
_OP_PHASES = {"Benchmark Initialization": "init", "Regular": "run"}


class _OpTableReader:
    """Keeps the rows of each profiler block's first table (the "Run Order")."""

    def __init__(self) -> None:
        self.rows: list[OpProfileRow] = []
        self.tables_seen = 0
        self._phase: str | None = None
        self._columns: list[str] | None = None  # header of the table being read, if kept
        self._block_has_table = False

    def feed(self, text: str) -> None:
        if phase := _OP_PHASE.match(text):
            self._start_block(_OP_PHASES[phase[1]])
        elif _OP_BLOCK_END.match(text):
            self._start_block(None)
        elif _OP_TABLE_HEADER.search(text):
            self.tables_seen += 1
            self._columns = None if self._block_has_table else _cells(text)
            self._block_has_table = True
        elif self._columns is not None:
            self._read_row(_cells(text), self._columns)

    def _start_block(self, phase: str | None) -> None:
        self._phase, self._columns, self._block_has_table = phase, None, False

    def _read_row(self, cells: list[str], columns: list[str]) -> None:
        if len(cells) != len(columns):  # a blank line or anything else ends the table
            self._columns = None
            return
        self.rows.append(_op_row(self._phase, dict(zip(columns, cells, strict=True))))


def _cells(text: str) -> list[str]:
    return [cell.strip() for cell in _OP_CELL_SEPARATOR.split(text) if cell.strip()]


def _op_row(phase: str | None, cells: dict[str, str]) -> OpProfileRow:
    return OpProfileRow(
        phase=phase,
        node_type=cells.get("[node type]", ""),
        name=cells.get("[Name]", ""),
        start_us=_ms_to_us(_number(cells.get("[start]"))),
        first_us=_ms_to_us(_number(cells.get("[first]"))),
        avg_us=_ms_to_us(_number(cells.get("[avg ms]"))),
        percent=_number(cells.get("[%]", "").rstrip("%")),
        cdf_percent=_number(cells.get("[cdf%]", "").rstrip("%")),
        mem_kb=_number(cells.get("[mem KB]")),
        times_called=_int(cells.get("[times called]")),
    )


def _parse_op_profile(lines: Sequence[_Line]) -> tuple[OpProfileRow, ...] | None:
    reader = _OpTableReader()
    for line in lines:
        reader.feed(line.text)
    return tuple(reader.rows) if reader.tables_seen else None


# --- errors and status ----------------------------------------------------------------------

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


def _first_error(lines: Sequence[_Line]) -> str | None:
    for line in lines:
        if line.level in ("E", "F") or _FAILURE_TEXT.match(line.text):
            return line.raw
    return None


def _status(has_summary: bool, error: str | None, lines: Sequence[_Line]) -> Status:
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
    lines = _split_lines(text)
    summary = _parse_summary(lines) or {}
    error = _first_error(lines)
    warmup, inference = _parse_stat_lines(lines)
    return BenchmarkParse(
        status=_status(bool(summary), error, lines),
        error=error,
        **summary,
        warmup=warmup,
        inference=inference,
        **_parse_memory(lines),
        delegates=_parse_delegates(lines),
        op_profile=_parse_op_profile(lines),
    )
