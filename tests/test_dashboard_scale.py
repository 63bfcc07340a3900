"""The dashboard of a lab-sized run: the answer at the top, failures grouped by reason, a run
of more than 1000 cells split into a summary page and a page per device (drawn by a real
headless Chromium), and a history that reads only the columns it shows. Built on the
synthetic lab of the scale benchmarks (tests/perf/synthetic_lab.py), at a size CI affords."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from farm.dashboard import HISTORY_COLUMNS, render_dashboard, split, write_dashboard
from farm.store import load_history, load_results
from farm.workers import share_work, usable_cores

from .lab import farm, require_tool
from .perf.synthetic_lab import PREFLIGHT, Lab, run_id_of, write_history
from .test_dashboard import chromium_dump_dom, device_figures, section, table_rows

TEMPLATE = {"runner": "python", "runtime": "ai_edge_litert", "model_sha256": "0" * 64}
RUN = {"run_id": "scale-test", "host": "ci"}


def synthetic(tmp_path: Path, lab: Lab, runs: int = 1) -> Path:
    write_history(tmp_path / "reports", TEMPLATE, lab, runs)
    return tmp_path / "reports"


def latest_results(reports: Path) -> pd.DataFrame:
    return load_results(sorted((reports / "runs").iterdir())[-1])


@pytest.fixture(scope="module")
def small_lab(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    # 5 devices: dev1's gpu cells fail parity, dev4's npu cells fail one pre-flight check.
    return latest_results(synthetic(tmp_path_factory.mktemp("lab"), Lab(5, 3, 20)))


def test_the_answer_comes_first_and_names_the_fastest_correct_delegate(
    small_lab: pd.DataFrame,
) -> None:
    html = render_dashboard(small_lab, RUN)
    assert html.index('<section id="answer">') < html.index('<section id="latency">')
    devices = {row[0]: row for row in table_rows(section(html, "answer"))[1:6]}
    assert devices["dev0"][1] == "npu/t1 (3 of 3)" and devices["dev0"][4] == "✓ none"
    assert devices["dev1"][4] == "✗ 3"  # its gpu cells failed parity
    assert not devices["dev4"][1].startswith("npu")  # its npu cells never ran
    models = table_rows(section(html, "answer").split("dev1: every model")[1])
    model_0 = next(row for row in models if row[0] == "model_0")
    assert model_0[1] == "✓ npu/t1" and model_0[3].endswith("×")


def test_a_faster_cell_that_failed_parity_is_named_beside_the_answer() -> None:
    frame = pd.DataFrame(small_lab_rows())
    html = render_dashboard(frame, RUN)
    model_row = table_rows(section(html, "answer").split("every model")[1])[1]
    assert model_row[1] == "✓ xnnpack/t1" and model_row[4].startswith("✗ gpu/t1")


def small_lab_rows() -> list[dict[str, object]]:
    base = {"run_id": "r", "device": "phone", "model": "m", "threads": 1, "model_sha256": "0"}
    return [
        {**base, "delegate": "cpu", "status": "ok", "latency_median_ms": 10.0},
        {**base, "delegate": "xnnpack", "status": "ok", "latency_median_ms": 4.0},
        {**base, "delegate": "gpu", "status": "failed", "failure_kind": "parity",
         "reason": "max abs 0.4", "latency_median_ms": 2.0},
    ]  # fmt: skip


def test_identical_failures_are_one_row_with_a_count_and_the_cells(
    small_lab: pd.DataFrame,
) -> None:
    rows = table_rows(section(render_dashboard(small_lab, RUN), "reasons"))
    preflight = [row for row in rows if row[3] == PREFLIGHT]
    assert len(preflight) == 1 and preflight[0][0] == "3" and preflight[0][4] == "dev4"
    assert preflight[0][5].startswith("dev4-model_0-npu-t1")
    assert [row[0] for row in rows[1:]] == ["3", "3"]  # the parity failures of dev1: one row


def test_a_large_run_is_a_summary_page_linking_a_page_per_device(tmp_path: Path) -> None:
    frame = latest_results(synthetic(tmp_path, Lab(6, 14, 10)))  # 1008 cells
    frame["device"] = frame["device"].replace("dev2", "<b>dev2</b>")
    page = write_dashboard(frame, RUN, tmp_path / "out" / "dashboard.html")
    summary = page.read_text(encoding="utf-8")
    links = re.findall(r'<a href="(dashboard-devices/[^"]+)">', summary)
    assert len(set(links)) == 6 and "dashboard-devices/_b_dev2__b_.html" in links
    assert "&lt;b&gt;dev2&lt;/b&gt;" in summary and "<b>dev2</b>" not in summary
    assert 'id="latency"' not in summary  # the charts are on the device pages only
    device_page = (page.parent / "dashboard-devices" / "dev0.html").read_text(encoding="utf-8")
    assert '<script src="plotly.min.js"></script>' in device_page
    assert 'id="latency"' in device_page and "dev0" in device_page and "dev3" not in device_page
    assert (page.parent / "dashboard-devices" / "plotly.min.js").stat().st_size > 1_000_000


def test_pages_written_by_several_processes_are_those_one_process_writes(tmp_path: Path) -> None:
    """`farm report --jobs 3` (the installed command: its workers are spawned from it) writes
    the very bytes that one process writes."""
    run_dir = sorted((synthetic(tmp_path, Lab(6, 14, 10), runs=2) / "runs").iterdir())[-1]
    farm = Path(sys.executable).with_name("farm")
    folders = {jobs: tmp_path / f"jobs-{jobs}" for jobs in (1, 3)}
    for jobs, folder in folders.items():
        argv = [farm, "report", run_dir, "--out", folder / "dashboard.html", "--jobs", str(jobs)]
        subprocess.run(argv, check=True, capture_output=True, timeout=600)
    files = {jobs: sorted(p.relative_to(f) for p in f.rglob("*")) for jobs, f in folders.items()}
    assert len(files[1]) == 9  # the summary, its folder: 6 device pages and plotly.min.js
    assert files[1] == files[3]
    for name in files[1]:
        one, three = (folders[jobs] / name for jobs in (1, 3))
        assert one.is_dir() or one.read_bytes() == three.read_bytes(), name


@pytest.mark.parametrize(("argv", "workers"), [(["--jobs", "3"], 3), ([], usable_cores())])
def test_farm_report_hands_its_jobs_to_the_page_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], workers: int
) -> None:
    """What `--jobs` (default: one per usable core) reaches: the workers that share the
    pages. (The pages they write are the pages one process writes: the test above.)"""
    run_dir = sorted((synthetic(tmp_path, Lab(6, 14, 10), runs=1) / "runs").iterdir())[-1]
    asked: list[tuple[int, int]] = []

    def one_process(function: Any, tasks: Sequence[Any], *, workers: int, done: Any) -> Any:
        asked.append((workers, len(tasks)))
        return share_work(function, tasks, done=done)

    monkeypatch.setattr(split, "share_work", one_process)
    code, output = farm("report", run_dir, "--out", tmp_path / "page" / "dashboard.html", *argv)

    assert code == 0, output
    assert asked == [(workers, 7)]  # 6 device pages and the summary


@pytest.mark.lab
def test_summary_and_device_pages_draw_in_headless_chromium(tmp_path: Path) -> None:
    chromium = require_tool("chromium")
    reports = synthetic(tmp_path, Lab(6, 14, 10), runs=3)
    history = load_history(reports, columns=HISTORY_COLUMNS)
    frame = latest_results(reports)
    frame["model"] = frame["model"].replace("model_1", "<script>alert(1)</script>")
    page = write_dashboard(frame, RUN, tmp_path / "out" / "dashboard.html", history=history)
    device_page = page.parent / "dashboard-devices" / "dev1.html"
    for shown in (page, device_page):
        dom, console = chromium_dump_dom(chromium, shown, tmp_path / f"profile-{shown.stem}")
        assert "Uncaught" not in console and "ERROR:CONSOLE" not in console, console[-2000:]
        assert "<script>alert" not in dom
    n_figures = device_page.read_text(encoding="utf-8").count('class="plotly-graph-div"')
    assert n_figures >= 4 and dom.count('class="main-svg"') >= n_figures


def test_history_reads_only_the_columns_asked_for_up_to_a_run(tmp_path: Path) -> None:
    reports = synthetic(tmp_path, Lab(2, 2, 5), runs=4)
    third, _ = run_id_of(2)
    history = load_history(reports, up_to=third, columns=HISTORY_COLUMNS)
    assert set(history.columns) == {*HISTORY_COLUMNS, "run_started_at"}
    assert history["run_id"].unique().tolist() == [run_id_of(n)[0] for n in range(3)]
    assert history["run_started_at"].iloc[-1] == run_id_of(2)[1].isoformat()
    everything = load_history(reports)
    assert "samples_ms" not in everything.columns and "latency_p99_ms" in everything.columns


def test_latest_html_of_a_large_run_links_the_device_pages_from_reports(tmp_path: Path) -> None:
    from farm.job import write_report

    reports = synthetic(tmp_path, Lab(6, 14, 5), runs=2)
    write_report(sorted((reports / "runs").iterdir())[-1])
    latest = (reports / "latest.html").read_text(encoding="utf-8")
    links = re.findall(r'<a href="([^"#]+)">', latest)
    assert len(links) == 6 and all((reports / link).is_file() for link in links)
    assert all(link.startswith("runs/") for link in links)


def test_a_device_page_trends_every_cell_of_its_device_over_every_run(tmp_path: Path) -> None:
    reports = synthetic(tmp_path, Lab(6, 14, 10), runs=3)  # 1,008 cells: a page per device
    history = load_history(reports, columns=HISTORY_COLUMNS)
    frame = latest_results(reports)
    page = write_dashboard(frame, RUN, tmp_path / "out" / "dashboard.html", history=history)

    split = (page.parent / "dashboard-devices" / "dev2.html").read_text(encoding="utf-8")
    alone = render_dashboard(
        frame[frame["device"].eq("dev2")], RUN, history=history[history["device"].eq("dev2")]
    )
    (traces, layout), (alone_traces, alone_layout) = (
        device_figures(html, "trends")["dev2"] for html in (split, alone)
    )
    lines = [t for t in traces if t.get("mode") == "lines+markers"]
    assert len(lines) == 14 * 12  # every cell of dev2: 14 models × 12 delegate/threads
    assert all(len(line["y"]) == 3 and None not in line["y"] for line in lines)
    assert (traces, layout) == (alone_traces, alone_layout)  # as a page of dev2 alone draws it
