"""Dashboard v2 across runs: trends with change points, and this run against its baseline.

The change-point rule is tested on synthetic series; the views by reading the page they render
from nightly histories (tests/test_dashboard.py builds those), and once through `write_report`
on two real runs under a reports/runs/ folder."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from farm.compare import Comparison, compare_runs, to_json
from farm.dashboard import render_dashboard
from farm.dashboard.changepoints import best_split, change_points, t_statistic
from farm.job import run_plan, write_report

from .lab import model_folder_with, plan_lab, write_devices
from .test_dashboard import (
    HOSTILE,
    N_RUNS,
    RUN,
    STEP_RUN,
    device_figures,
    figures,
    hostile_frame,
    nightly,
    nightly_history,
    nightly_id,
    section,
    table_rows,
    values,
)

# ---------------------------------------------------------------- the change-point rule


def wobbly(n: int, seed: int, noise: float = 0.01, level_ms: float = 2.0) -> np.ndarray:
    """n per-run medians around `level_ms` with a run-to-run noise of `noise` (relative)."""
    return level_ms * np.random.default_rng(seed).lognormal(0.0, noise, size=n)


def test_a_clear_step_is_found_at_the_run_where_it_starts() -> None:
    series = wobbly(10, seed=0)
    series[4:] *= 1.10
    (point,) = change_points(series)
    assert point.index == 4
    assert point.before_ms == pytest.approx(2.0, rel=0.02)
    assert point.after_ms == pytest.approx(2.2, rel=0.02)
    assert point.change == pytest.approx(0.10, abs=0.02)


def test_noise_alone_gives_no_change_point() -> None:
    """At this lab's run-to-run noise (1-2 %) none at all; on a noisy device (5 %) the false
    alarms stay within the 1 % the rule's alpha allows."""
    for seed in range(100):
        for n in (5, 12, 40):
            assert change_points(wobbly(n, seed, noise=0.01)) == [], (seed, n)
    for noise in (0.02, 0.05):
        alarms = [
            bool(change_points(wobbly(n, seed, noise))) for seed in range(200) for n in (8, 30)
        ]
        assert np.mean(alarms) <= 0.01, noise


def test_a_step_up_and_back_down_gives_two_change_points() -> None:
    series = wobbly(12, seed=0)
    series[4:8] *= 1.2
    assert [(p.index, round(p.change, 1)) for p in change_points(series)] == [(4, 0.2), (8, -0.2)]


def test_a_step_under_the_minimum_is_not_marked_however_clear() -> None:
    assert change_points([1.0, 1.0, 1.0, 1.03, 1.03, 1.03]) == []
    (point,) = change_points([1.0, 1.0, 1.0, 1.06, 1.06, 1.06])
    assert point.index == 3 and point.change == pytest.approx(0.06)


def test_one_odd_run_is_not_a_level_and_a_step_needs_two_runs_after_it() -> None:
    assert change_points([1.0] * 5 + [1.5] + [1.0] * 5) == []
    assert change_points([1.0, 1.0, 1.0, 1.0, 1.2]) == []  # the latest run alone: see Compare
    assert [p.index for p in change_points([1.0, 1.0, 1.0, 1.0, 1.2, 1.2])] == [4]
    assert change_points([]) == [] and change_points([2.0]) == []


# ---------------------------------------------------------------- the trends view


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return nightly_history()


@pytest.fixture(scope="module")
def trends_html(history: pd.DataFrame) -> str:
    return render_dashboard(nightly(history, N_RUNS), RUN, history=history)


def panel_of(layout: dict[str, Any], model: str) -> str:
    """The x axis id (`x`, `x2` …) of the subplot titled `model`."""
    row = [a["text"] for a in layout["annotations"]].index(model) + 1
    return "x" if row == 1 else f"x{row}"


def panel(html: str, device: str, model: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The traces in one model's panel of a device's trends chart, and the chart's layout."""
    traces, layout = device_figures(html, "trends")[device]
    axis = panel_of(layout, model)
    return [t for t in traces if t.get("xaxis", "x") == axis], layout


def lines(traces: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """`delegate/tN` → its median line."""
    return {t["name"]: t for t in traces if t.get("mode") == "lines+markers"}


def test_the_step_is_marked_at_its_run_for_that_cell_and_no_other(trends_html: str) -> None:
    step_start = f"2025-11-{STEP_RUN:02d} 02:00:00"
    rows = table_rows(section(trends_html, "trends"))
    assert rows[0] == ["Device", "Model", "Delegate/threads", "From run", "Before", "After", "Step"]
    (step,) = rows[1:]
    assert step[:4] == ["host", "mobilenet_v2_int8", "xnnpack/t1", nightly_id(STEP_RUN)]
    assert step[6].startswith("+") and 8 <= float(step[6].rstrip(" %")) <= 12
    traces, layout = panel(trends_html, "host", "mobilenet_v2_int8")
    (marks,) = [t for t in traces if t.get("name") == "change point"]
    assert marks["x"] == [step_start] and marks["marker"]["symbol"] == ["triangle-up"]
    assert "mobilenet_v2_int8 · xnnpack/t1" in marks["customdata"][0]
    assert f"run {STEP_RUN}: {nightly_id(STEP_RUN)}" in marks["customdata"][0]
    (line,) = layout["shapes"]  # the dotted line, in this panel only
    assert line["x0"] == line["x1"] == step_start and line["xref"] == marks["xaxis"]
    for device in ("host", "pixel8"):
        traces, _ = device_figures(trends_html, "trends")[device]
        assert len([t for t in traces if t.get("name") == "change point"]) == (device == "host")


def test_each_cell_has_a_median_per_run_and_a_p5_p95_band(
    trends_html: str, history: pd.DataFrame
) -> None:
    traces, layout = panel(trends_html, "host", "kws_cnn_int8")
    assert list(lines(traces)) == ["cpu/t1", "cpu/t2", "xnnpack/t1", "xnnpack/t2"]
    cell = history[(history.device == "host") & (history.model == "kws_cnn_int8")]
    cell = cell[(cell.delegate == "xnnpack") & (cell.threads == 2)]
    line = lines(traces)["xnnpack/t2"]
    assert values(line["y"]) == pytest.approx(cell.latency_median_ms.tolist())
    assert len(line["x"]) == N_RUNS and line["x"][0] == "2025-11-01 02:00:00"
    assert f"run 1: {nightly_id(1)}" in line["customdata"][0]
    (band,) = [t for t in traces if t.get("fill") == "toself" and t["legendgroup"] == "xnnpack/t2"]
    assert max(values(band["y"])) == pytest.approx(cell.latency_p95_ms.max())
    assert min(values(band["y"])) == pytest.approx(cell.latency_p5_ms.min())
    assert layout[f"yaxis{line['yaxis'][1:]}"]["type"] == "log"


def test_a_run_where_the_cell_failed_is_a_gap_in_its_line(history: pd.DataFrame) -> None:
    history = history.copy()
    failed = (history.run_id == nightly_id(2)) & (history.device == "host")
    failed &= (history.model == "kws_cnn_int8") & (history.delegate == "cpu")
    history.loc[failed, ["status", "failure_kind", "latency_median_ms"]] = ["failed", "infra", None]
    html = render_dashboard(nightly(history, N_RUNS), RUN, history=history)
    line = lines(panel(html, "host", "kws_cnn_int8")[0])["cpu/t1"]
    assert values(line["y"])[1] is None and None not in values(line["y"])[2:]
    assert "not timed in this run" in line["customdata"][1]


def test_a_device_switched_to_the_native_runner_is_two_lines_and_no_step(
    history: pd.DataFrame,
) -> None:
    """pixel8 moved from the Python runner to benchmark_model half-way (its numbers 30 %
    higher): a native cell and a Python one are never one trend with a step between them."""
    history = history.copy()
    switched = (history.device == "pixel8") & (history.run_id >= nightly_id(N_RUNS // 2))
    history.loc[switched, "runner"] = "benchmark_model"
    for column in ("latency_median_ms", "latency_p5_ms", "latency_p95_ms"):
        history.loc[switched, column] *= 1.3
    html = render_dashboard(nightly(history, N_RUNS), RUN, history=history)
    steps = [row[:3] for row in table_rows(section(html, "trends"))[1:]]
    assert steps == [["host", "mobilenet_v2_int8", "xnnpack/t1"]]  # the real step only
    traces, _ = device_figures(html, "trends")["pixel8"]
    names = {t["name"] for t in traces if t.get("mode") == "lines+markers"}
    assert {"cpu/t1 · python", "cpu/t1 · benchmark_model"} <= names and "cpu/t1" not in names


def test_with_one_run_trends_say_they_need_two(history: pd.DataFrame) -> None:
    first = history[history.run_id == nightly_id(1)]
    for html in (
        render_dashboard(nightly(history, 1), RUN, history=first),
        render_dashboard(nightly(history, 1), RUN),
    ):
        part = section(html, "trends")
        assert "Trends need at least two runs" in part and "Plotly.newPlot" not in part


# ---------------------------------------------------------------- the compare view


@pytest.fixture(scope="module")
def comparison(history: pd.DataFrame) -> Comparison:
    """The run where the step began against the one before it."""
    return compare_runs(nightly(history, STEP_RUN - 1), nightly(history, STEP_RUN))


@pytest.fixture(scope="module")
def compare_html(history: pd.DataFrame, comparison: Comparison) -> str:
    current = nightly(history, STEP_RUN)
    baseline = nightly_id(STEP_RUN - 1)
    return render_dashboard(current, RUN, comparison=comparison, baseline=baseline)


def test_compare_lists_the_slower_cell_first_with_its_interval(compare_html: str) -> None:
    part = section(compare_html, "compare")
    assert f"against run {nightly_id(STEP_RUN - 1)}: 1 slower, 2 not comparable, 19 same" in part
    header, first, *rest = table_rows(part)
    assert header[:7] == ["Device", "Model", "Delegate/threads", "Baseline", "This run", "Change",
                          "95% interval"]  # fmt: skip
    assert first[:3] == ["host", "mobilenet_v2_int8", "xnnpack/t1"] and first[7] == "slower"
    low, high = (float(x.rstrip(" %")) for x in first[6].split(" … "))
    assert 5 < low < float(first[5].rstrip(" %")) < high
    assert '<span class="badge failed">slower</span>' in part
    assert [row[7] for row in rest[:2]] == ["not comparable"] * 2
    assert {row[7] for row in rest[2:]} == {"same"}


def test_the_forest_plot_shows_each_interval_against_the_threshold_band(
    compare_html: str, comparison: Comparison
) -> None:
    ((traces, layout),) = section_figures(compare_html, "compare")
    slower = next(t for t in traces if t.get("name") == "slower")
    assert slower["y"] == ["host · mobilenet_v2_int8 · xnnpack/t1"]
    (row,) = comparison.regressions
    assert values(slower["x"]) == pytest.approx([row.change])
    assert values(slower["error_x"]["array"]) == pytest.approx([row.ci_high - row.change])
    assert values(slower["error_x"]["arrayminus"]) == pytest.approx([row.change - row.ci_low])
    same = next(t for t in traces if t.get("name") == "same")
    assert len(same["y"]) == 19 and layout["yaxis"]["autorange"] == "reversed"
    (band,) = [s for s in layout["shapes"] if s["type"] == "rect"]
    assert (band["x0"], band["x1"]) == (-0.05, 0.05)


def section_figures(html: str, anchor: str) -> list[tuple[list[dict[str, Any]], dict]]:
    """The figures of one section, in page order."""
    part, decoded = section(html, anchor), figures(html)
    return [decoded[i] for i in re.findall(r'Plotly\.newPlot\(\s*"([^"]+)"', part)]


def test_without_a_baseline_compare_says_so(history: pd.DataFrame) -> None:
    part = section(render_dashboard(nightly(history, 1), RUN), "compare")
    assert "No baseline to compare with" in part and "<table" not in part


def test_names_in_trends_and_compare_are_text() -> None:
    hostile = nightly_history(hostile_frame(), runs=5)
    comparison = compare_runs(nightly(hostile, 4), nightly(hostile, 5))
    html = render_dashboard(
        nightly(hostile, 5), RUN, history=hostile, comparison=comparison, baseline=HOSTILE
    )
    for anchor in ("trends", "compare"):
        part = section(html, anchor)
        assert "<script>alert" not in part and "<b>8</b>" not in part and "<i>" not in part
    assert "against run &lt;script&gt;alert(1)&lt;/script&gt;:" in section(html, "compare")
    assert HOSTILE in [row[1] for row in table_rows(section(html, "compare"))]
    _, layout = device_figures(html, "trends")["host"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in [a["text"] for a in layout["annotations"]]


# ---------------------------------------------------------------- through write_report


def test_write_report_shows_trends_and_the_comparison_of_real_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two real runs on this host under reports/runs/: the second one's page trends both runs
    and compares the second with the first."""
    host = {"transport": "local", "delegates": ["xnnpack"], "threads": [1]}
    host["workdir"] = tmp_path / "work"
    devices = write_devices(tmp_path / "devices.yaml", {"host": host})
    models = model_folder_with(tmp_path, "kws_dscnn_int8")
    monkeypatch.chdir(tmp_path)  # runs go to reports/runs/<run id> under it
    runs = tmp_path / "reports" / "runs"
    plans = []
    for _ in range(2):
        plan = plan_lab(devices, models, runs=50, warmup=2, seed=1)
        assert not plans or plan.run_id > plans[-1].run_id  # ids sort by start, to the ms
        assert run_plan(plan).exit_code == 0
        plans.append(plan)
    first = (runs / plans[0].run_id / "dashboard.html").read_text(encoding="utf-8")
    assert "Trends need at least two runs" in section(first, "trends")
    assert "No baseline to compare with" in section(first, "compare")
    second = (runs / plans[1].run_id / "dashboard.html").read_text(encoding="utf-8")
    assert second == (runs.parent / "latest.html").read_text(encoding="utf-8")
    traces, _ = device_figures(second, "trends")["host"]
    (line,) = [t for t in traces if t.get("mode") == "lines+markers"]
    assert line["name"] == "xnnpack/t1" and len(values(line["y"])) == 2
    assert [plans[0].run_id in text for text in line["customdata"]] == [True, False]
    part = section(second, "compare")
    assert f"against run {plans[0].run_id}" in part
    (_, row) = table_rows(part)
    assert row[:3] == ["host", "kws_dscnn_int8", "xnnpack/t1"]
    assert row[7] in {"same", "faster", "slower"} and " … " in row[6]
    # A nightly's compare.json (here made with a 20 % threshold) is what the page shows.
    comparison = compare_runs(
        pd.read_parquet(runs / plans[0].run_id / "results.parquet"),
        pd.read_parquet(runs / plans[1].run_id / "results.parquet"),
        threshold=0.2,
    )
    (runs / plans[1].run_id / "compare.json").write_text(to_json(comparison))
    again = write_report(runs / plans[1].run_id).read_text(encoding="utf-8")
    assert "beyond ±20%" in section(again, "compare")


@given(
    segment=st.lists(st.floats(0.1, 100, allow_nan=False), min_size=6, max_size=40),
    margin=st.integers(1, 3),
)
def test_the_vectorised_split_is_the_one_by_one_search_it_replaced(
    segment: list[float], margin: int
) -> None:
    """best_split scores every candidate at once; it must pick what calling t_statistic on
    each split did (the first of equals)."""
    values = np.asarray(segment)
    candidates = range(margin, len(values) - margin + 1)
    scores = [round(t_statistic(values[:k], values[k:], 1.0), 9) for k in candidates]
    assert best_split(values, candidates) == candidates[scores.index(max(scores))]
