"""The farm at lab scale (`tox -e perf -k scale`): a year of nightlies of a 2,880-cell lab
(1.05 M history rows, 50 samples a cell) and one 26,508-cell run, built by the synthetic lab
generator from a results.parquet a real `farm run` wrote here; then `farm report`, `farm
history` and `farm compare` as a user runs them (each its own process, three times: the
median wall time and its spread, and the peak RSS of the process and its workers together),
the HTML they wrote, and headless Chromium over the pages.

Prints the target table of issue 23. The targets are for a 2-core machine; a loaded one
misses them without the code being wrong, so the table says which were met rather than
failing the run (timing claims belong in benchmarks, not in asserts); the browser check and
the page sizes are asserted.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..lab import model_folder_with, require_tool, run_lab
from ..test_dashboard import chromium_dump_dom
from .synthetic_lab import Lab, template_row, write_history

pytestmark = pytest.mark.perf
YEAR, YEAR_LAB = 365, Lab(15, 16, 50)  # 1,051,200 rows
BIG_LAB = Lab(47, 47, 100)  # 26,508 cells
MB = 1e6


ROUNDS = 3  # each command this often: the table says the median and the spread


@dataclass(frozen=True)
class Measured:
    wall_s: float
    peak_rss_mb: float  # of the process and its workers together


@dataclass(frozen=True)
class Rounds:
    """A command's rounds: the median wall time with the fastest and slowest, peak memory."""

    rounds: tuple[Measured, ...]

    def wall(self) -> str:
        walls = sorted(m.wall_s for m in self.rounds)
        return f"{statistics.median(walls):.1f} s ({walls[0]:.1f}–{walls[-1]:.1f})"

    def peak_gb(self) -> str:
        return f"{max(m.peak_rss_mb for m in self.rounds) / 1000:.2f} GB"


def farm(*args: object) -> Rounds:
    return Rounds(tuple(farm_once(*args) for _ in range(ROUNDS)))


def farm_once(*args: object) -> Measured:
    """`farm ARGS` in its own process: its wall time and the peak of the summed RSS of it and
    its worker processes (sampled every 20 ms from /proc: wait4's maxrss is the largest one
    process reached, not what they held together)."""
    argv = [sys.executable, "-c", "from farm.cli import main; main()", *map(str, args)]
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_kb = 0
    while process.poll() is None:
        peak_kb = max(peak_kb, tree_rss_kb(process.pid))
        time.sleep(0.02)
    wall_s = time.perf_counter() - start
    # Any verdict is fine (the synthetic lab has failed cells: compare exits 5); 2 or a crash
    # is not.
    assert process.returncode in (0, 1, 3, 4, 5, 6), process.stderr.read()  # type: ignore[union-attr]
    return Measured(wall_s, peak_kb / 1024)


def tree_rss_kb(pid: int) -> int:
    """The resident memory of a process and all its descendants (kB); 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0
    rss = [line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")]
    return sum(map(int, rss)) + sum(tree_rss_kb(int(child)) for child in children)


def real_template(tmp_path: Path) -> Path:
    """A results.parquet from a real one-cell `farm run` on this host."""
    host = {"transport": "local", "delegates": ["cpu"], "threads": [1]}
    devices = {"host": host | {"workdir": tmp_path / "work"}}
    folder = model_folder_with(tmp_path, "kws_dscnn_int8", folder="template-models")
    run_dir = tmp_path / "template-run"
    run_lab(tmp_path, devices, folder, seed=0, run_dir=run_dir)
    return run_dir / "results.parquet"


def pages(out: Path) -> tuple[float, float]:
    """(largest page, all pages and plotly.min.js) in MB."""
    files = [out, *out.parent.glob(f"{out.stem}-devices/*")]
    html = [f.stat().st_size for f in files if f.suffix == ".html"]
    return max(html) / MB, sum(f.stat().st_size for f in files) / MB


def sizes(out: Path) -> str:
    largest, every = pages(out)
    return f"{largest:.1f} MB / {every:.1f} MB"


def browser_check(out: Path, profile: Path) -> str:
    """The summary page and the largest device page in headless Chromium: console errors."""
    chromium = require_tool("chromium")
    device_pages = sorted(out.parent.glob(f"{out.stem}-devices/*.html"), key=os.path.getsize)
    errors = []
    for page in [out, *device_pages[-1:]]:
        dom, console = chromium_dump_dom(chromium, page, profile / page.stem)
        if "Uncaught" in console or "ERROR:CONSOLE" in console or "</html>" not in dom:
            errors.append(f"{page.name}: {console[-500:]}")
    return "; ".join(errors)


def test_scale_report_history_and_compare(tmp_path: Path, benchmark: pytest.FixtureRequest) -> None:
    template = template_row(real_template(tmp_path))
    start = time.perf_counter()
    write_history(tmp_path / "year", template, YEAR_LAB, YEAR)
    write_history(tmp_path / "big", template, BIG_LAB, 1)
    generated_s = time.perf_counter() - start
    year_runs = sorted((tmp_path / "year" / "runs").iterdir())
    (big_run,) = (tmp_path / "big" / "runs").iterdir()

    year_out = tmp_path / "year-page" / "dashboard.html"
    big_out = tmp_path / "big-page" / "dashboard.html"
    timed: list[Measured] = []  # pytest-benchmark's table: one round a report, not three
    args = ("report", year_runs[-1], "--out", year_out)
    benchmark.pedantic(lambda: timed.append(farm_once(*args)), rounds=ROUNDS)
    report = Rounds(tuple(timed))
    history = farm("history", "--reports", tmp_path / "year")
    compare = farm("compare", year_runs[-2], year_runs[-1])
    big = farm("report", big_run, "--out", big_out)
    rows = [
        ("generate 365 runs + the 27 k-cell run", f"{generated_s:.1f} s", "—"),
        ("1 M rows: farm report, latest run", report.wall(), "≤ 15 s"),
        ("1 M rows: largest page / all files", sizes(year_out), "≤ 8 MB"),
        ("1 M rows: farm report peak RSS (with workers)", report.peak_gb(), "≤ 2 GB"),
        ("1 M rows: farm history", history.wall(), "≤ 5 s"),
        ("1 M rows: farm compare (two runs)", compare.wall(), "≤ 5 s"),
        ("27 k cells: farm report", big.wall(), "≤ 10 s"),
        ("27 k cells: largest page / all files", sizes(big_out), "≤ 8 MB"),
        ("27 k cells: farm report peak RSS (with workers)", big.peak_gb(), "—"),
    ]  # fmt: skip
    print("\n" + "\n".join(f"| {work} | {got} | {target} |" for work, got, target in rows))
    benchmark.extra_info.update({work: got for work, got, _ in rows})
    assert pages(year_out)[0] <= 8 and pages(big_out)[0] <= 8
    assert browser_check(year_out, tmp_path / "chromium") == ""
    assert browser_check(big_out, tmp_path / "chromium-big") == ""
