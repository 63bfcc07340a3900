"""Op profiling: the "Run Order" table of each block that --enable_op_profiling prints."""

from __future__ import annotations

import re
from collections.abc import Sequence

from farm.runners.benchmark_model.lines import Line, integer, ms_to_us, number
from farm.runners.benchmark_model.records import OpProfileRow

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
        start_us=ms_to_us(number(cells.get("[start]"))),
        first_us=ms_to_us(number(cells.get("[first]"))),
        avg_us=ms_to_us(number(cells.get("[avg ms]"))),
        percent=number(cells.get("[%]", "").rstrip("%")),
        cdf_percent=number(cells.get("[cdf%]", "").rstrip("%")),
        mem_kb=number(cells.get("[mem KB]")),
        times_called=integer(cells.get("[times called]")),
    )


def parse_op_profile(lines: Sequence[Line]) -> tuple[OpProfileRow, ...] | None:
    """The rows of every "Run Order" table; None when the output has no op-profile table."""
    reader = _OpTableReader()
    for line in lines:
        reader.feed(line.text)
    return tuple(reader.rows) if reader.tables_seen else None
