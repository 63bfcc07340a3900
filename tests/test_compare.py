"""`farm compare`: verdicts on real A/A runs of this host, injected changes, exit codes, reports.

The real runs are two A/A runs of the farm (same build, same models, back to back): their
per-iteration samples carry this host's real noise, tails and autocorrelation. Changes are
injected into copies of NEW, so the only difference a test sees is the one it made.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import resource
import shutil
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from farm.compare import (
    EXIT_INFRA_ONLY,
    EXIT_OK,
    EXIT_PARITY_BROKEN,
    EXIT_REGRESSION,
    CellComparison,
    Comparison,
    Verdict,
    compare_runs,
    from_json,
    load_result_set,
    to_json,
    to_markdown,
    to_table,
)
from farm.compare.blocks import block_length, block_starts, bootstrap_medians
from farm.compare.stats import MIN_SAMPLES
from farm.errors import ConfigError
from farm.orchestrator import RunPlan, execute
from farm.spec import CellResult
from farm.stats import summarize_latency
from farm.store import RESULTS, results_frame, write_results

from .lab import model_folder_with, plan_lab, write_devices

THRESHOLD = 0.05
LATENCY_COLUMNS = ("latency_median_ms", "latency_mean_ms", "latency_std_ms")


# An A/A interval wider than this cannot resolve a 10 % change against a 5 % threshold.
DECISIVE_WIDTH = 0.06
ATTEMPTS = 2
QUIET_LOAD = 0.2  # CPUs other processes may keep busy while a pair is measured
REPEATS = 4  # runner processes per cell and side: a process's own level is noise, not a change
MIN_SECONDS = 0.4


@pytest.fixture(scope="session")
def aa_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two real A/A runs on this host: cpu and xnnpack, one thread, two int8 models.

    The same plan twice (same seed, so the same cell order: the order alone shifted a cell's
    median by up to 4 % between runs), each cell in four runner processes (``--repeats 4``: a
    process's own level then widens the interval instead of passing for a change), measured
    in turn, process by process (``run_aa_pair``), after one throw-away cell.
    Measured as two whole runs one after the other, the first run of a pair came out 6-8 %
    slower in every cell twice in seven suite runs on a shared 2-CPU VM, with no other process
    busy: a change of the host's state between runs that no sample within a run shows. Taken
    in turn, both sides meet such a change alike, as the farm's own shuffled order does within
    one run.

    Each process measures at least 0.4 s: 200 runs of the keyword model (0.17-0.33 ms here)
    last 34-66 ms, short enough for one burst of another process to move the whole cell,
    where a longer window shows that burst to the block bootstrap as noise. A pair is
    measured again (two pairs at most) when other processes of this host used more than a
    fifth of a CPU while it ran (a busy neighbour moved a 0.04 ms cell's median by 7 %), or
    when it is too noisy to resolve a 10 % change (an A/A interval wider than 6 %). The
    quietest pair is kept, then the narrowest: that makes the A/A check harder (narrow
    intervals flag more easily) and lets the injected changes be resolved. The choice looks
    at the host's load and interval widths only, never at whether the two runs agree.
    """
    root = tmp_path_factory.mktemp("aa")
    devices, models = host_lab(root)
    pairs: dict[tuple[Path, Path], tuple[bool, float]] = {}
    with ahead_of_other_processes():
        for attempt in range(ATTEMPTS):
            pair = (root / f"base-{attempt}", root / f"new-{attempt}")
            with OthersCpu() as others:
                run_aa_pair(devices, models, pair)
            aa = compare_runs(*(load_result_set(run_dir) for run_dir in pair))
            width = max(interval_width(row) for row in aa.rows)
            pairs[pair] = (others.load > QUIET_LOAD, width)
            if pairs[pair] <= (False, DECISIVE_WIDTH):
                return pair
    kept = min(pairs, key=pairs.__getitem__)
    busy, width = pairs[kept]
    warnings.warn(f"no quiet, decisive A/A pair (busy={busy}, widest {width:.0%})", stacklevel=1)
    return kept


def run_aa_pair(devices: Path, models: Path, pair: tuple[Path, Path]) -> None:
    """BASE and NEW from one plan, runner process by runner process in turn: for each cell,
    BASE's first process, NEW's first, BASE's second, ... (REPEATS each), pooled per side as
    ``--repeats`` pools them. Each side's results.parquet holds its four cells.

    Shared VMs (this one and CI's) have slow spells of about a second: the keyword model's
    builtin-kernel cell then runs at 0.55 ms instead of 0.33, 2 s timed in one process
    showed it in 2-4 of 5 parts in three processes of eight. Measured cell by cell (BASE's
    two processes, then NEW's), CI saw NEW's both slow and BASE's both fast: a narrow
    interval at +63 %. Taken in turn, four processes a side, one side's processes are all
    caught in a spell while the other's mostly are not far more rarely (for spells a third
    of the time: about 1 % of bimodal cells, against about 9 % with two a side); any mix is
    a side's own process-to-process noise, which the two-level bootstrap widens the
    interval for, as it is meant to. Seen here: two a side, in turn, failed 2 of 10 fixture
    runs; four a side passed 5 of 5 (3 beside a busy loop), in the same time (two pairs)."""
    options = {"runs": 200, "warmup": 10, "min_seconds": MIN_SECONDS, "seed": 7, "repeats": 1}
    plans = [plan_lab(devices, models, run_dir=run_dir, **options) for run_dir in pair]
    execute(one_cell(plans[0], 0, pair[0] / "warm-up"))  # the host's first cell is not kept
    processes: dict[Path, list[list[CellResult]]] = {
        run_dir: [[] for _ in plans[0].cells] for run_dir in pair
    }
    for index in range(len(plans[0].cells)):
        for repeat in range(REPEATS):
            for plan in plans:
                cell_dir = plan.run_dir / f"cell-{index}-{repeat}"
                processes[plan.run_dir][index] += execute(one_cell(plan, index, cell_dir)).results
    for run_dir, cells in processes.items():
        write_results(run_dir, [pooled(results) for results in cells])


def pooled(results: list[CellResult]) -> CellResult:
    """One cell's runner processes as ``--repeats`` pools them (``measure.pooled`` pools the
    runner's outcomes before their row is made; these are rows): every sample in process order,
    each process's count, the statistics of them all; the rest is the first process's."""
    assert [r.status for r in results] == ["ok"] * REPEATS, results
    samples = tuple(sample for result in results for sample in result.samples_ms)
    return dataclasses.replace(
        results[0],
        samples_ms=samples,
        process_samples=tuple(len(result.samples_ms) for result in results),
        latency_count=len(samples),
        **summarize_latency(samples),
    )


def one_cell(plan: RunPlan, index: int, run_dir: Path) -> RunPlan:
    return dataclasses.replace(plan, cells=(plan.cells[index],), run_dir=run_dir)


class OthersCpu:
    """How many CPUs other processes of this host kept busy, on average, inside the block:
    all busy time (/proc/stat, steal included) less this process's and its children's."""

    def __enter__(self) -> OthersCpu:
        self.start = (time.monotonic(), _busy_s(), _own_cpu_s())
        self.load = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        wall, busy, own = (
            now - then
            for now, then in zip(
                (time.monotonic(), _busy_s(), _own_cpu_s()), self.start, strict=True
            )
        )
        self.load = max(busy - own, 0.0) / wall if wall > 0 else 0.0


def _busy_s() -> float:
    """Seconds all CPUs of this host were busy since boot (0 where /proc/stat is absent)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the runners, once waited for
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def host_lab(root: Path) -> tuple[Path, Path]:
    """devices.yaml with this host, and a folder with the two int8 models."""
    models = model_folder_with(root, "kws_dscnn_int8", "mobilenet_v2_int8")
    host = {"transport": "local", "delegates": ["cpu", "xnnpack"], "threads": [1]}
    devices = write_devices(root / "devices.yaml", {"host": host | {"workdir": root / "work"}})
    return devices, models


def shown(comparison: Comparison) -> str:
    """The rows in one line each, for assertion messages."""
    return "\n".join(
        f"{r.cell_id}: {r.verdict} {r.change} [{r.ci_low}, {r.ci_high}] n={r.n_base}/{r.n_new}"
        for r in comparison.rows
    )


def process_medians(frame: pd.DataFrame) -> list[list[float]]:
    """Each cell's median per runner process (ms), for assertion messages."""
    return [
        [round(float(np.median(part)), 3) for part in np.split(samples, np.cumsum(sizes)[:-1])]
        for samples, sizes in zip(frame.samples_ms, frame.process_samples, strict=True)
    ]


def interval_width(row: CellComparison) -> float:
    assert row.ci_low is not None and row.ci_high is not None
    return row.ci_high - row.ci_low


@contextlib.contextmanager
def ahead_of_other_processes() -> Iterator[None]:
    """Run the runners (children inherit it) at a raised priority where that is allowed.

    The farm measures dedicated devices; a test host is shared. Measured on a 2-CPU test VM
    shared with other test sessions (load 1.5): at normal priority 15 % of cell runs had their
    median pushed up 20-40 % by other processes, so one A/A pair in four had a cell that truly
    ran slower; at nice -10 all 80 cell medians stayed within ±2.1 %. Under heavier load (3)
    some still moved: hence the longer cells and the re-measuring in ``aa_runs``.
    """
    before = os.getpriority(os.PRIO_PROCESS, 0)
    with contextlib.suppress(PermissionError):  # not allowed: measure as is
        os.setpriority(os.PRIO_PROCESS, 0, -20)
    try:
        yield
    finally:
        os.setpriority(os.PRIO_PROCESS, 0, before)


@pytest.fixture
def base(aa_runs: tuple[Path, Path]) -> pd.DataFrame:
    return in_key_order(load_result_set(aa_runs[0]))


@pytest.fixture
def new(aa_runs: tuple[Path, Path]) -> pd.DataFrame:
    return in_key_order(load_result_set(aa_runs[1] / RESULTS))


class Resolvable(NamedTuple):
    """The changes the tests inject into real runs: factors on the latency."""

    slower: float
    faster: float
    threshold: float  # the smallest change an A/A pair of this host may be held to


@pytest.fixture
def resolvable(base: pd.DataFrame, new: pd.DataFrame) -> Resolvable:
    """A change this host resolves: 10 % where the narrowest A/A interval is at most
    DECISIVE_WIDTH wide (a quiet host), else a change beyond that width, so a noisy host still
    runs every real-run check rather than skipping it (FARM_REQUIRE_LAB=1 hides none). Where
    runner processes differ much (a shared 2-CPU VM: the builtin-kernel cell of the keyword
    model ran at 0.21 ms in some processes and 0.34 ms in others, pinned or not; the narrowest
    of three A/A intervals was 52 % wide under a load of 2) a 10 % change is within the noise;
    the statistics themselves are tested on synthetic runs below."""
    width = max(interval_width(row) for row in compare_runs(base, new, THRESHOLD).rows)
    if width <= DECISIVE_WIDTH:
        return Resolvable(1.10, 0.90, THRESHOLD)
    change = THRESHOLD + 2 * width  # the interval of a scaled copy is about as wide
    warnings.warn(
        f"this host cannot resolve a 10 % change (A/A {width:.0%}): {change:.0%}", stacklevel=1
    )
    return Resolvable(1 + change, 1 / (1 + change), max(THRESHOLD, width))


def in_key_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by cell, so row i is the same cell in BASE and NEW (runs are shuffled)."""
    return frame.sort_values(["model", "delegate"]).reset_index(drop=True)


def scaled(frame: pd.DataFrame, factor: float) -> pd.DataFrame:
    """A copy with every sample and every latency statistic multiplied by ``factor``."""
    frame = frame.copy()
    frame["samples_ms"] = [np.asarray(samples) * factor for samples in frame["samples_ms"]]
    for column in (c for c in frame.columns if c.startswith("latency_")):
        frame[column] = frame[column] * factor
    return frame


def edited(frame: pd.DataFrame, row: int, **values: object) -> pd.DataFrame:
    frame = frame.copy()
    for column, value in values.items():
        frame[column] = frame[column].astype(object)
        frame.at[frame.index[row], column] = value
    return frame


def cell(comparison: Comparison, frame: pd.DataFrame, row: int) -> CellComparison:
    device, model, delegate, threads = frame.iloc[row][["device", "model", "delegate", "threads"]]
    (found,) = [
        r
        for r in comparison.rows
        if (r.device, r.model, r.delegate, r.threads) == (device, model, delegate, threads)
    ]
    return found


# --- real A/A runs ---------------------------------------------------------------------------


def test_aa_runs_are_not_flagged(
    base: pd.DataFrame, new: pd.DataFrame, resolvable: Resolvable
) -> None:
    """At 5 % on a quiet host; on a noisy one, at the A/A interval's own width (two runs of
    the same code there differ by chance by more than 5 %: 27 % was seen)."""
    comparison = compare_runs(base, new, resolvable.threshold)
    said = f"{shown(comparison)}\nprocess medians: {process_medians(base)} {process_medians(new)}"

    assert comparison.exit_code == EXIT_OK, said
    assert [row.verdict for row in comparison.rows] == ["same"] * 4, said
    for row in comparison.rows:
        assert row.ci_low is not None and row.ci_high is not None and row.change is not None
        assert row.ci_low <= row.change <= row.ci_high
        assert row.n_base >= 200 and row.n_new >= 200
        assert row.method == "two-level bootstrap of the median (processes, then blocks)"


# Injected changes. Into a copy of NEW (what a user would see): the change then rides on NEW's
# own difference from BASE, which between real A/A runs on a shared host reached ±4 %, so only
# the exit code is certain. Into a copy of BASE: the true change is exactly the injected one,
# so every cell must be called, with the whole interval beyond the threshold.


@pytest.mark.parametrize(
    ("direction", "exit_code", "never"),
    [("slower", EXIT_REGRESSION, "faster"), ("faster", EXIT_OK, "slower")],
)
def test_a_ten_percent_change_of_new_sets_the_exit_code(
    base: pd.DataFrame,
    new: pd.DataFrame,
    resolvable: Resolvable,
    direction: str,
    exit_code: int,
    never: str,
) -> None:
    factor = getattr(resolvable, direction)
    comparison = compare_runs(base, scaled(new, factor), THRESHOLD)

    assert comparison.exit_code == exit_code, shown(comparison)
    assert never not in {row.verdict for row in comparison.rows}


@pytest.mark.parametrize(
    ("verdict", "exit_code"), [("slower", EXIT_REGRESSION), ("faster", EXIT_OK)]
)
def test_a_ten_percent_change_is_called_in_every_cell(
    base: pd.DataFrame, resolvable: Resolvable, verdict: str, exit_code: int
) -> None:
    factor = getattr(resolvable, verdict)
    comparison = compare_runs(base, scaled(base, factor), THRESHOLD)

    assert comparison.exit_code == exit_code
    assert [row.verdict for row in comparison.rows] == [verdict] * 4, shown(comparison)
    for row in comparison.rows:
        assert row.ci_low is not None and row.ci_high is not None
        beyond = row.ci_low > THRESHOLD if verdict == "slower" else row.ci_high < -THRESHOLD
        assert beyond, row
        assert row.change == pytest.approx(factor - 1)


def test_slowdown_of_one_cell_flags_that_cell_only(
    base: pd.DataFrame, resolvable: Resolvable
) -> None:
    slowed = base.copy()
    samples = np.asarray(slowed.iloc[2]["samples_ms"]) * resolvable.slower
    slowed.at[slowed.index[2], "samples_ms"] = samples

    comparison = compare_runs(base, slowed, THRESHOLD)

    assert comparison.exit_code == EXIT_REGRESSION
    assert comparison.regressions == (cell(comparison, base, 2),)


def test_a_runtime_change_is_never_compared_silently(
    base: pd.DataFrame, new: pd.DataFrame, resolvable: Resolvable
) -> None:
    slower = scaled(base, resolvable.slower)
    comparison = compare_runs(base, edited(slower, 0, runtime_version="9.9.9"))

    changed = cell(comparison, new, 0)
    assert changed.verdict == "not comparable"
    assert changed.reason is not None and "runtime_version differs" in changed.reason
    assert "'9.9.9'" in changed.reason
    assert (changed.change, changed.ci_low, changed.ci_high) == (None, None, None)
    assert len(comparison.regressions) == 3


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("model_sha256", "0" * 64, "model_sha256 differs"),
        ("runtime", "tflite_runtime", "runtime differs"),
        # A native cell (benchmark_model, its binary's sha256 as the version) and a Python one
        # of the same device × model × delegate × threads are two different cells.
        ("runner", "benchmark_model", "runner differs: 'python' → 'benchmark_model'"),
        ("delegate_library_sha256", "ab12", "delegate_library_sha256 differs"),
    ],
)
def test_what_produced_the_numbers_must_match(
    base: pd.DataFrame, new: pd.DataFrame, column: str, value: str, expected: str
) -> None:
    if column not in new.columns:
        base, new = base.assign(**{column: None}), new.assign(**{column: None})

    row = cell(compare_runs(base, edited(new, 1, **{column: value})), new, 1)

    assert row.verdict == "not comparable"
    assert row.reason is not None and expected in row.reason


def test_device_fingerprint_compares_stable_fields_only(
    base: pd.DataFrame, new: pd.DataFrame, resolvable: Resolvable
) -> None:
    noise = resolvable.threshold
    facts = json.loads(new.iloc[0]["device_fingerprint"])
    volatile = json.dumps({**facts, "serial": "127.0.0.1:40123", "edgetpu_device": "18d1:9302"})
    other_cpu = json.dumps({**facts, "model": "Cortex-A76"})

    reconnected = cell(
        compare_runs(base, edited(new, 0, device_fingerprint=volatile), noise), new, 0
    )
    replaced = cell(compare_runs(base, edited(new, 0, device_fingerprint=other_cpu), noise), new, 0)

    assert reconnected.verdict == "same"
    assert replaced.verdict == "not comparable"
    assert replaced.reason is not None
    assert "device fingerprint differs: model " in replaced.reason
    assert "'Cortex-A76'" in replaced.reason


def test_a_new_os_build_is_not_comparable(base: pd.DataFrame, new: pd.DataFrame) -> None:
    facts = json.loads(new.iloc[0]["device_fingerprint"])
    old = json.dumps({**facts, "build_fingerprint": "google/shiba/shiba:15/AP3A/1:user"})
    rebuilt = json.dumps({**facts, "build_fingerprint": "google/shiba/shiba:15/AP4A/1:user"})

    comparison = compare_runs(
        edited(base, 0, device_fingerprint=old), edited(new, 0, device_fingerprint=rebuilt)
    )

    row = cell(comparison, new, 0)
    assert row.verdict == "not comparable"
    assert row.reason is not None and "fingerprint differs: build_fingerprint" in row.reason


def test_an_unknown_fingerprint_is_said_not_assumed(
    base: pd.DataFrame, new: pd.DataFrame, resolvable: Resolvable
) -> None:
    noise = resolvable.threshold
    row = cell(compare_runs(edited(base, 0, device_fingerprint=None), new, noise), new, 0)

    assert row.verdict == "same"
    assert row.reason == "no device fingerprint in BASE: not checked"


def test_cells_missing_on_one_side(
    base: pd.DataFrame, new: pd.DataFrame, resolvable: Resolvable
) -> None:
    comparison = compare_runs(base, new.iloc[1:], resolvable.threshold)

    gone = cell(comparison, new, 0)
    assert (gone.verdict, gone.reason) == ("not comparable", "missing in NEW")
    assert comparison.exit_code == EXIT_OK
    assert cell(compare_runs(base.iloc[1:], new), new, 0).reason == "missing in BASE"


# --- exit codes ------------------------------------------------------------------------------


def failed(frame: pd.DataFrame, row: int, kind: str, reason: str) -> pd.DataFrame:
    return edited(frame, row, status="failed", failure_kind=kind, reason=reason, samples_ms=[])


@pytest.mark.parametrize(
    ("edit", "index", "flag", "reason", "exit_code"),
    [
        (
            lambda new: failed(new, 1, "parity", "outputs differ from host-cpu: cosine 0.12"),
            1,
            "parity_broken",
            "NEW failed (parity): outputs differ from host-cpu: cosine 0.12",
            EXIT_PARITY_BROKEN,
        ),
        (
            lambda new: edited(new, 1, parity_ok=False),  # an ok cell whose parity check failed
            1,
            "parity_broken",
            None,
            EXIT_PARITY_BROKEN,
        ),
        (
            lambda new: failed(new, 3, "timeout", "timed out after 300 s"),
            3,
            "infra_failure",
            "NEW failed (timeout): timed out after 300 s",
            EXIT_INFRA_ONLY,
        ),
    ],
    ids=["parity-failure", "parity-not-ok", "infra-only"],
)
def test_a_new_failure_is_not_compared_and_sets_the_exit_code(
    base: pd.DataFrame,
    new: pd.DataFrame,
    edit: Callable[[pd.DataFrame], pd.DataFrame],
    index: int,
    flag: str,
    reason: str | None,
    exit_code: int,
    resolvable: Resolvable,
) -> None:
    comparison = compare_runs(base, edit(new), resolvable.threshold)

    row = cell(comparison, new, index)
    assert getattr(row, flag)
    if reason is not None:
        assert row.verdict == "not comparable" and row.reason == reason
    assert comparison.exit_code == exit_code


def test_parity_broken_in_both_runs_is_not_newly_broken(
    base: pd.DataFrame, new: pd.DataFrame, resolvable: Resolvable
) -> None:
    noise = resolvable.threshold
    comparison = compare_runs(failed(base, 1, "parity", "x"), failed(new, 1, "parity", "x"), noise)

    assert comparison.exit_code == EXIT_OK


def test_exit_code_precedence_is_parity_then_regression_then_infra(
    base: pd.DataFrame, resolvable: Resolvable
) -> None:
    slower = scaled(base, resolvable.slower)
    with_infra = failed(slower, 0, "infra", "adb: device offline")
    with_parity = failed(with_infra, 1, "parity", "outputs differ")

    assert compare_runs(base, with_infra).exit_code == EXIT_REGRESSION
    assert compare_runs(base, with_parity).exit_code == EXIT_PARITY_BROKEN


# --- cells without samples (benchmark_model) --------------------------------------------------


def without_samples(frame: pd.DataFrame, spread: float | None) -> pd.DataFrame:
    frame = frame.assign(samples_ms=[[] for _ in range(len(frame))])
    frame["latency_std_ms"] = None if spread is None else frame["latency_median_ms"] * spread
    return frame


@pytest.mark.parametrize(
    ("spread", "verdict", "note"),
    [
        (0.01, "slower", "spread ±1.5%"),
        (0.20, "same", "spread ±29.7%"),
        (None, "slower", "no std either"),
    ],
)
def test_summary_only_cells_need_a_change_beyond_their_spread(
    base: pd.DataFrame, spread: float | None, verdict: str, note: str
) -> None:
    """benchmark_model keeps no samples: a 10 % slowdown counts only when the std is small."""
    old = without_samples(base, spread)
    comparison = compare_runs(old, scaled(old, 1.10))

    for row in comparison.rows:
        assert row.verdict == verdict
        assert (row.ci_low, row.ci_high, row.method) == (None, None, "summary statistics")
        assert row.change == pytest.approx(0.10)
        assert row.reason == f"no samples: no confidence interval (median; {note})"


# --- reports ---------------------------------------------------------------------------------


def renamed(frame: pd.DataFrame, model: str) -> pd.DataFrame:
    return edited(frame, 0, model=model)


def test_markdown_escapes_names_and_reasons(base: pd.DataFrame, new: pd.DataFrame) -> None:
    model = "evil|model\n<script>alert(1)</script>"
    broken = failed(renamed(new, model), 0, "infra", "pipe | and\nnewline")

    text = to_markdown(compare_runs(renamed(base, model), broken))

    table = [line for line in text.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 4  # header, rule, one line per cell
    unescaped = [line.replace("\\|", "").count("|") for line in table]
    assert set(unescaped) == {11}
    assert "evil\\|model<br>&lt;script&gt;" in text and "<script>" not in text
    assert "pipe \\| and<br>newline" in text
    # The infra-failed cell is not comparable; the other cells' verdicts are this host's noise.
    assert "1 infra failure" in text.splitlines()[0] and "→ exit " in text.splitlines()[0]


def test_table_shows_verdicts_and_names_as_text(base: pd.DataFrame, resolvable: Resolvable) -> None:
    slower = scaled(base, resolvable.slower)
    comparison = compare_runs(renamed(base, "[bold]m[/bold]"), renamed(slower, "[bold]m[/bold]"))
    console = Console(record=True, width=250)

    console.print(to_table(comparison))

    text = console.export_text()
    assert "[bold]m[/bold]" in text
    assert text.count("slower") == 1 + 4  # the summary line, then every cell
    assert "exit 3: regression" in text


def test_json_round_trips(base: pd.DataFrame, resolvable: Resolvable) -> None:
    slower = scaled(base, resolvable.slower)
    comparison = compare_runs(base, failed(slower, 0, "infra", "offline"))

    text = to_json(comparison)

    assert from_json(text) == comparison
    data = json.loads(text)
    assert data["exit_code"] == EXIT_REGRESSION
    assert data["counts"] == {"slower": 3, "faster": 0, "same": 0, "not comparable": 1}


def test_verdicts_are_deterministic_for_a_seed(base: pd.DataFrame, new: pd.DataFrame) -> None:
    assert compare_runs(base, new, seed=7) == compare_runs(base, new, seed=7)
    assert compare_runs(base, new, seed=7) != compare_runs(base, new, seed=8)


# --- loading ---------------------------------------------------------------------------------


def test_load_result_set_takes_a_run_dir_or_a_parquet_file(
    aa_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    by_dir, by_file = load_result_set(aa_runs[0]), load_result_set(aa_runs[0] / RESULTS)
    copied = tmp_path / "base.parquet"
    shutil.copyfile(aa_runs[0] / RESULTS, copied)

    assert by_dir.equals(by_file)
    assert compare_runs(by_dir, load_result_set(copied)).counts()["same"] == 4


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: p / "nope", "no such run directory or file"),
        (lambda p: p, "not a run directory"),
        (lambda p: (p / "notes.txt", (p / "notes.txt").write_text("x"))[0], "not a results file"),
        (
            lambda p: (p / "junk.parquet", (p / "junk.parquet").write_text("x"))[0],
            "cannot read as Parquet",
        ),
    ],
)
def test_load_result_set_refuses_anything_else(
    tmp_path: Path, make: Callable[[Path], Path], problem: str
) -> None:
    path = make(tmp_path)

    with pytest.raises(ConfigError, match=problem) as error:
        load_result_set(path)

    assert error.value.file == str(path) and error.value.exit_code == 2


# --- the statistics on synthetic series ------------------------------------------------------


def latency_series(
    rng: np.random.Generator, n: int, sigma: float, phi: float, spikes: float
) -> np.ndarray:
    """Lognormal latencies (median 1 ms) with AR(1) autocorrelation in the log and rare spikes."""
    noise = rng.normal(0.0, sigma * np.sqrt(1 - phi**2), n)
    log = np.empty(n)
    log[0] = rng.normal(0.0, sigma)
    for i in range(1, n):
        log[i] = phi * log[i - 1] + noise[i]
    latency = np.exp(log)
    hit = rng.random(n) < spikes
    latency[hit] *= rng.uniform(1.5, 4.0, hit.sum())
    return latency


def frame_of(
    samples: Sequence[float], model: str = "m", processes: tuple[int, ...] = ()
) -> pd.DataFrame:
    result = CellResult(
        "run", "dev", model, "cpu", 1, "ok", "sha", runtime="r", samples_ms=tuple(samples)
    )
    return results_frame([dataclasses.replace(result, process_samples=processes)])


def processes_at(rng: np.random.Generator, levels: Sequence[float], n: int = 300) -> np.ndarray:
    """One cell measured in several processes, each at its own level (1.0 = the true one)."""
    return np.concatenate([latency_series(rng, n, 0.05, 0.2, 0.0) * level for level in levels])


def test_a_process_off_by_6_percent_widens_the_interval_instead_of_passing_for_a_change() -> None:
    rng = np.random.default_rng(11)
    base, new = processes_at(rng, (1.06, 1.06)), processes_at(rng, (1.0, 1.06))

    pooled = compare_runs(frame_of(base), frame_of(new), THRESHOLD).rows[0]
    by_process = compare_runs(
        frame_of(base, processes=(300, 300)), frame_of(new, processes=(300, 300)), THRESHOLD
    ).rows[0]

    assert by_process.method == "two-level bootstrap of the median (processes, then blocks)"
    assert by_process.ci_low < pooled.ci_low and by_process.ci_low <= by_process.change
    assert by_process.ci_high >= 0  # the side's own processes disagree: no clear change
    assert by_process.verdict == "same"


def test_a_change_every_process_shows_is_still_found() -> None:
    rng = np.random.default_rng(12)
    base, new = processes_at(rng, (1.0, 1.01, 0.99)), processes_at(rng, (1.12, 1.13, 1.11))

    sizes = (300, 300, 300)
    row = compare_runs(frame_of(base, processes=sizes), frame_of(new, processes=sizes)).rows[0]

    assert row.verdict == "slower" and row.ci_low > THRESHOLD


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    n=st.integers(200, 1500),
    sigma=st.floats(0.01, 0.3),
    phi=st.floats(0.0, 0.5),
    spikes=st.floats(0.0, 0.05),
    seeds=st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)),
)
def test_aa_synthetic_runs_are_not_flagged(
    n: int, sigma: float, phi: float, spikes: float, seeds: tuple[int, int]
) -> None:
    base_rng, new_rng = (np.random.default_rng(seed) for seed in seeds)
    base = frame_of(latency_series(base_rng, n, sigma, phi, spikes))
    new = frame_of(latency_series(new_rng, n, sigma, phi, spikes))

    comparison = compare_runs(base, new, THRESHOLD)

    assert comparison.rows[0].verdict == "same", comparison.rows[0]
    assert comparison.exit_code == EXIT_OK


def test_aa_false_positive_rate_and_interval_coverage() -> None:
    """Many A/A pairs of noisy (CV 30 %), autocorrelated (AR 0.5), spiky series, n = 200:
    almost none is flagged at 5 %, and the 95 % interval holds the true change (0) about 95 %
    of the time — the interval is calibrated, not merely wide."""
    rng = np.random.default_rng(2024)
    pairs = 150
    rows = [
        compare_runs(
            frame_of(latency_series(rng, 200, 0.3, 0.5, 0.03)),
            frame_of(latency_series(rng, 200, 0.3, 0.5, 0.03)),
            THRESHOLD,
            seed=i,
        ).rows[0]
        for i in range(pairs)
    ]

    flagged = sum(row.verdict != "same" for row in rows) / pairs
    covered = sum(row.ci_low <= 0 <= row.ci_high for row in rows) / pairs  # type: ignore[operator]
    assert flagged <= 0.02
    assert covered >= 0.88


def test_long_series_are_thinned_deterministically() -> None:
    rng = np.random.default_rng(5)
    base, new = latency_series(rng, 5000, 0.1, 0.2, 0.01), latency_series(rng, 5000, 0.1, 0.2, 0.01)

    first = compare_runs(frame_of(base), frame_of(new * 1.2)).rows[0]

    assert (first.n_base, first.n_new, first.verdict) == (5000, 5000, "slower")
    assert first == compare_runs(frame_of(base), frame_of(new * 1.2)).rows[0]


def test_a_broken_answer_says_how_it_broke_in_the_table_and_the_json(
    base: pd.DataFrame, new: pd.DataFrame
) -> None:
    nan = "outputs differ from host-cpu: output_0 has 3 NaN and 0 Inf of 8 values"
    comparison = compare_runs(
        base, edited(failed(new, 1, "parity", nan), 1, parity_class="non-finite")
    )

    assert cell(comparison, new, 1).parity_class == "non-finite"
    assert f"| parity broken | non-finite: NEW failed (parity): {nan} |" in to_markdown(comparison)
    classes = [row["parity_class"] for row in json.loads(to_json(comparison))["rows"]]
    assert classes.count("non-finite") == 1


def test_a_few_samples_are_not_enough_for_a_verdict(base: pd.DataFrame) -> None:
    few = base.assign(samples_ms=[list(s)[:10] for s in base["samples_ms"]])
    # Ten times slower: beyond any spread a loaded host gives the summary (at 1.5x, the p5-p95
    # spread of a busy 2-CPU host covered the change, and the cells came out "same").
    comparison = compare_runs(few, scaled(few, 10.0))
    verdicts = [row.verdict for row in comparison.rows]
    assert "slower" not in verdicts and "not comparable" in verdicts
    for row in comparison.rows:
        assert row.reason is not None and row.reason.startswith("not enough samples: 10 ")
    assert comparison.exit_code != 3  # 10x slower on 10 samples is not called a regression


def test_the_summary_counts_a_new_infra_failure_as_the_dashboard_does(base: pd.DataFrame) -> None:
    from farm.compare.report import summary

    comparison = compare_runs(base, failed(base, 0, "infra", "adb: device offline"))
    line = summary(comparison)
    assert line.startswith("1 infra failure, ")  # not folded into "not comparable"
    assert "0 " not in line.split("(threshold")[0]  # counts of nothing are left out


def test_the_rows_say_the_verdict_the_summary_counts(base: pd.DataFrame, new: pd.DataFrame) -> None:
    comparison = compare_runs(base, failed(new, 3, "timeout", "timed out after 300 s"))
    text = to_markdown(comparison)
    assert "1 infra failure" in text.splitlines()[0]
    assert text.count("| infra failure |") == 1


def one_by_one_medians(samples: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """The circular block bootstrap by its definition: per resample, the blocks of
    `block_length` consecutive samples (wrapping round) from starts drawn as `stats` draws them,
    joined and cut to n, and that resample's np.median."""
    n, length = len(samples), block_length(samples)
    starts = block_starts(np.random.default_rng(seed), n, resamples, length)
    medians = []
    for row in starts:
        picked = np.concatenate([samples[(start + np.arange(length)) % n] for start in row])
        medians.append(np.median(picked[:n]))
    return np.array(medians)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    n=st.integers(MIN_SAMPLES, 400),
    phi=st.floats(0.0, 0.95),
    decimals=st.integers(0, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_counted_bootstrap_medians_equal_the_one_by_one_definition(
    n: int, phi: float, decimals: int, seed: int
) -> None:
    """`farm compare` counts each resample's median instead of sorting it; the medians, ties
    (rounded samples) and odd or even n included, are exactly those of the definition."""
    samples = latency_series(np.random.default_rng(seed), n, 0.2, phi, 0.02).round(decimals)

    counted = bootstrap_medians(samples, 300, np.random.default_rng(seed))

    np.testing.assert_array_equal(counted, one_by_one_medians(samples, 300, seed))


def lab_of(series: dict[str, np.ndarray], processes: dict[str, tuple[int, ...]]) -> pd.DataFrame:
    result = CellResult("run", "dev", "m", "cpu", 1, "ok", "sha", runtime="r")
    return results_frame(
        [
            dataclasses.replace(
                result, model=model, samples_ms=tuple(samples),
                process_samples=processes.get(model, ()),
            )
            for model, samples in series.items()
        ]
    )  # fmt: skip


def test_each_cell_gets_the_interval_it_gets_alone_among_many_cells_of_mixed_lengths() -> None:
    """`farm compare` bootstraps the cells of a lab together (by shape, in batches); each cell
    still draws from its own stream (seed, cell key), so a cell compared among 80 others, of
    other lengths, drifting, with a NaN, in two processes or with too few samples, gets the
    very numbers and verdict it gets compared alone."""
    rng = np.random.default_rng(23)
    sizes = [MIN_SAMPLES, 21, 50, 50, 51, 300, 1500, 10]
    base, new = {}, {}
    for i in range(81):
        n, phi = sizes[i % len(sizes)], (0.0, 0.5, 0.97)[i % 3]
        base[f"m{i}"] = latency_series(rng, n, 0.1, phi, 0.01)
        new[f"m{i}"] = latency_series(rng, n, 0.1, phi, 0.01) * (1.0, 1.1, 1.3)[i % 3]
    base["m7"][3] = np.nan
    processes = {"m6": (750, 750)}

    together = compare_runs(lab_of(base, processes), lab_of(new, processes)).rows

    for row in together:
        model = row.model
        alone = compare_runs(
            lab_of({model: base[model]}, processes), lab_of({model: new[model]}, processes)
        ).rows
        assert alone == (row,)
    assert {row.verdict for row in together} >= {"slower", "same"}


def test_a_large_comparison_lists_the_cells_that_changed_and_counts_the_rest() -> None:
    def cell(model: str, verdict: Verdict, change: float) -> CellComparison:
        return CellComparison("dev", model, "cpu", 1, verdict, base_median_ms=10.0,
                              new_median_ms=10 * (1 + change), change=change)  # fmt: skip

    same = [cell(f"steady_{i}", "same", 0.001) for i in range(250)]
    changed = [cell("slow_model", "slower", 0.3), cell("fast_model", "faster", -0.3)]
    console = Console(record=True, width=250)

    console.print(to_table(Comparison(tuple(same + changed))))

    text = console.export_text()
    assert "slow_model" in text and "fast_model" in text and "steady_" not in text
    assert "250 more cells the same, not listed (--format markdown or json" in text
    assert "250 same" in text.splitlines()[0]  # the summary still counts every cell
    assert to_markdown(Comparison(tuple(same + changed))).count("steady_") == 250
