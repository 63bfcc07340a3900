"""The farm at lab scale (`tox -e perf -k scale`): a year of nightlies of a 2,880-cell lab
(1.05 M history rows, 50 samples a cell) and one 26,508-cell run, built by the synthetic lab
generator from a results.parquet a real `farm run` wrote here; then `farm report`, `farm
history` and `farm compare` as a user runs them (each its own process: wall time and peak
RSS of that process), the HTML they wrote, and headless Chromium over the pages.

Prints the target table of issue 23. The targets are for a 2-core machine; a loaded one
misses them without the code being wrong, so the table says which were met rather than
failing the run (timing claims belong in benchmarks, not in asserts); the browser check and
the page sizes are asserted.
"""

from __future__ import annotations

import os
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


@dataclass(frozen=True)
class Measured:
    wall_s: float
    peak_rss_mb: float


def farm(*args: object) -> Measured:
    """`farm ARGS` in its own process: its wall time and its own peak RSS (wait4's rusage)."""
    argv = [sys.executable, "-c", "from farm.cli import main; main()", *map(str, args)]
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall_s = time.perf_counter() - start
    # Any verdict is fine (the synthetic lab has failed cells: compare exits 5); 2 or a crash
    # is not.
    code = os.waitstatus_to_exitcode(status)
    assert code in (0, 1, 3, 4, 5, 6), process.stderr.read()  # type: ignore[union-attr]
    return Measured(wall_s, usage.ru_maxrss / 1024)


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
    report = benchmark.pedantic(farm, args=("report", year_runs[-1], "--out", year_out), rounds=1)
    history = farm("history", "--reports", tmp_path / "year")
    compare = farm("compare", year_runs[-2], year_runs[-1])
    big = farm("report", big_run, "--out", big_out)
    rows = [
        ("generate 365 runs + the 27 k-cell run", f"{generated_s:.1f} s", "—"),
        ("1 M rows: farm report, latest run", f"{report.wall_s:.1f} s", "≤ 15 s"),
        ("1 M rows: largest page / all files", sizes(year_out), "≤ 8 MB"),
        ("1 M rows: farm report peak RSS", f"{report.peak_rss_mb / 1000:.2f} GB", "≤ 2 GB"),
        ("1 M rows: farm history", f"{history.wall_s:.1f} s", "≤ 5 s"),
        ("1 M rows: farm compare (two runs)", f"{compare.wall_s:.1f} s", "≤ 5 s"),
        ("27 k cells: farm report", f"{big.wall_s:.1f} s", "≤ 10 s"),
        ("27 k cells: largest page / all files", sizes(big_out), "≤ 8 MB"),
        ("27 k cells: farm report peak RSS", f"{big.peak_rss_mb / 1000:.2f} GB", "—"),
    ]  # fmt: skip
    print("\n" + "\n".join(f"| {work} | {got} | {target} |" for work, got, target in rows))
    benchmark.extra_info.update({work: got for work, got, _ in rows})
    assert pages(year_out)[0] <= 8 and pages(big_out)[0] <= 8
    assert browser_check(year_out, tmp_path / "chromium") == ""
    assert browser_check(big_out, tmp_path / "chromium-big") == ""
