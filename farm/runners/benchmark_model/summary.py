"""The final timing summary (classic, legacy or LiteRT) and the warm-up and timed-run stat lines."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from farm.runners.benchmark_model.lines import Line, integer, ms_to_us, number
from farm.runners.benchmark_model.records import StatLine

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
# "Warmup (first): 1.03 ms", "Warmup (avg): 0.47 ms (1055 runs)", "Inference (avg): ...
# (2112 runs)", "Inference (min)", "(max)" in ms, "Inference (std): 0.01" (ms, no unit: the
# tool divides the µs deviation by 1000), "Throughput: 525.55 MB/s" and, in later builds,
# "Signature name: serving_default" (litert/tools/benchmark_litert_model.h).
_LITERT_HEADER = re.compile(r"=+ BENCHMARK RESULTS =+")
_LITERT_FIELD = re.compile(
    r"(Model initialization|Warmup \(first\)|Warmup \(avg\)|Inference \((?:avg|min|max|std)\)):"
    r"\s+(\S+)(?: ms)?(?: \(([0-9]+) runs\))?$"
)
_LITERT_KEYS = {
    "Model initialization": "init_us",
    "Warmup (first)": "first_inference_us",
    "Warmup (avg)": "warmup_avg_us",
    "Inference (avg)": "inference_avg_us",
}
# The block's numbers for the timed runs, as a stat line (where no classic count= line is).
_LITERT_STATS = {
    "Inference (min)": "min_us",
    "Inference (max)": "max_us",
    "Inference (std)": "std_us",
}
_LITERT_THROUGHPUT = re.compile(r"Throughput:\s+(\S+) MB/s")
_LITERT_SIGNATURE = re.compile(r"Signature(?: name)?:\s+(\S+)")


def parse_summary(lines: Sequence[Line]) -> dict[str, Any] | None:
    """``format`` plus the four summary times in µs, or None when no final summary is there.
    LiteRT's block adds ``throughput_mb_s``, ``signature`` and, as ``litert_inference`` /
    ``litert_warmup``, the stat lines its numbers make."""
    return _parse_litert_summary(lines) or _parse_classic_summary(lines)


def _parse_classic_summary(lines: Sequence[Line]) -> dict[str, Any] | None:
    summary: dict[str, Any] | None = None
    for line in lines:
        if match := _SUMMARY.match(line.text):
            summary = {"format": "classic" if match["legacy"] == "Inference" else "legacy"}
            for key, value in _SUMMARY_FIELD.findall(match["fields"]):
                summary[_SUMMARY_KEYS[key]] = number(value)
    return summary


def _parse_litert_summary(lines: Sequence[Line]) -> dict[str, Any] | None:
    starts = [i for i, line in enumerate(lines) if _LITERT_HEADER.fullmatch(line.text)]
    if not starts:
        return None
    summary: dict[str, Any] = {"format": "litert"}
    stats: dict[str, dict[str, Any]] = {"litert_warmup": {}, "litert_inference": {}}
    for line in lines[starts[-1] + 1 :]:
        if match := _LITERT_FIELD.match(line.text):
            _litert_field(match, summary, stats)
        elif match := _LITERT_THROUGHPUT.match(line.text):
            summary.setdefault("throughput_mb_s", number(match[1]))
        elif match := _LITERT_SIGNATURE.match(line.text):
            summary.setdefault("signature", match[1])
    if "inference_avg_us" not in summary:
        return None
    return summary | {key: StatLine(**values) for key, values in stats.items() if values}


def _litert_field(
    match: re.Match[str], summary: dict[str, Any], stats: dict[str, dict[str, Any]]
) -> None:
    name, value = match[1], ms_to_us(number(match[2]))
    if name in _LITERT_KEYS:
        summary.setdefault(_LITERT_KEYS[name], value)
    stat = stats["litert_warmup" if name.startswith("Warmup") else "litert_inference"]
    if name in _LITERT_STATS:
        stat.setdefault(_LITERT_STATS[name], value)
    elif name in ("Warmup (avg)", "Inference (avg)"):
        stat.setdefault("avg_us", value)
        stat.setdefault("count", integer(match[3]))
    elif name == "Warmup (first)":
        stat.setdefault("first_us", value)


# Stat::OutputToStream, every version: "count=50 first=.. curr=.. min=.. max=.. avg=.. std=..";
# "count=N curr=X" when all samples were equal (with "(all same)" when N > 1); "count=0";
# newer builds (seen from 2.20 and LiteRT) append " p5=.. median=.. p95=..". Matched at the
# start of the line only: the op profiler's "Timings (microseconds): count=.." is not one.
_STAT_LINE = re.compile(r"count=([0-9]+)(?![0-9.])(.*)")
_STAT_FIELD = re.compile(r"\b(first|curr|min|max|avg|std|p5|median|p95)=([^\s(]+)")


def parse_stat_lines(lines: Sequence[Line]) -> tuple[StatLine | None, StatLine | None]:
    """(warm-up, timed runs): BenchmarkModel::Run always runs the warm-up loop first."""
    stats = [_stat_line(match) for line in lines if (match := _STAT_LINE.match(line.text))]
    return (stats[0] if stats else None, stats[1] if len(stats) > 1 else None)


def _stat_line(match: re.Match[str]) -> StatLine:
    values: dict[str, Any] = {
        f"{key}_us": number(value) for key, value in _STAT_FIELD.findall(match[2])
    }
    return StatLine(count=integer(match[1]), **values)
