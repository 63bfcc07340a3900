"""The dashboard, checked the way a user meets it: by reading the HTML it writes (and, where
Chromium is installed, by letting a real browser draw it)."""

from __future__ import annotations

import base64
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from plotly.offline import get_plotlyjs

from farm.dashboard import render_dashboard, write_dashboard
from farm.dashboard.pareto import dominated_by, pareto_front
from farm.dashboard.units import format_ms, format_ms_all

from .lab import require_tool

RUN: dict[str, Any] = {
    "run_id": "20251123-093812-a1b2",
    "farm_version": "0.1.0",
    "git_commit": "3f9c2e1d4b5a69788c0d1e2f3a4b5c6d7e8f9012",
    "host": "lab-ws-01",
    "started_at": "2025-11-23T09:38:12+00:00",
    "finished_at": "2025-11-23T09:51:40+00:00",
    "seed": 1234,
    "devices": {
        "host": {"model": "x86_64 workstation", "os": "Debian 12", "abi": "x86_64"},
        "pixel8": {"model": "Pixel 8", "soc": "Tensor G3", "os": "Android 14", "abi": "arm64-v8a"},
    },
    "runtimes": {"ai_edge_litert": "2.3.0"},
}
BASE_MEDIAN_MS = {"mobilenet_v2_fp32": 12.4, "mobilenet_v2_int8": 6.1, "kws_cnn_int8": 0.72}
MEDIAN_MS = BASE_MEDIAN_MS | {"mobilenet_v2_fp16": 11.2}  # the fleet frame adds the fp16 variant
SIZE_BYTES = {
    "mobilenet_v2_fp32": 14_000_000, "mobilenet_v2_fp16": 7_000_000,
    "mobilenet_v2_int8": 3_500_000, "kws_cnn_int8": 60_000,
}  # fmt: skip
DELEGATE_FACTOR = {
    ("host", "cpu"): 1.0,
    ("host", "xnnpack"): 0.31,
    ("pixel8", "cpu"): 2.2,
    ("pixel8", "xnnpack"): 0.8,
    ("pixel8", "gpu"): 0.45,
}
GPU_REASON = "TfLiteGpuDelegate Prepare: ADD: expected 2 inputs of the same shape\nnode 17 failed"
EDGETPU_REASON = "model is not compiled for the Edge TPU (no edgetpu-custom-op)"
HOSTILE = "<script>alert(1)</script>"
MOBILENET_OPS = {"ADD": 10, "CONV_2D": 35, "DEPTHWISE_CONV_2D": 17, "FULLY_CONNECTED": 1}
KWS_OPS = {"CONV_2D": 5, "DEPTHWISE_CONV_2D": 4, "FULLY_CONNECTED": 1}
OPS = {  # every node of each model by op type, as a cpu cell reports them left on the CPU
    "mobilenet_v2_fp32": MOBILENET_OPS | {"MEAN": 1, "SOFTMAX": 1},  # 65 nodes
    "mobilenet_v2_fp16": MOBILENET_OPS | {"MEAN": 1, "SOFTMAX": 1},
    "mobilenet_v2_int8": MOBILENET_OPS | {"MEAN": 1, "SOFTMAX": 1},
    "kws_cnn_int8": KWS_OPS | {"MEAN": 1, "SOFTMAX": 1},  # 12 nodes
}
LEFT_ON_CPU = {  # (delegate, model) → (partitions, ops the delegate did not take)
    ("xnnpack", "mobilenet_v2_int8"): (1, {"SOFTMAX": 1}),
    ("xnnpack", "kws_cnn_int8"): (1, {"SOFTMAX": 1}),
    ("gpu", "kws_cnn_int8"): (2, {"MEAN": 1, "SOFTMAX": 1}),  # FULLY_CONNECTED between them
}
PARITY = {  # (device, delegate, model) → max abs, cosine, top-5 against the reference cell
    ("host", "xnnpack", "mobilenet_v2_fp32"): (1.2e-7, 1 - 4e-12, 1.0),
    ("host", "xnnpack", "mobilenet_v2_int8"): (7.8125e-3, 0.972864, 0.6),
    ("host", "xnnpack", "kws_cnn_int8"): (3.9e-3, 0.999794, 1.0),
    ("pixel8", "cpu", "mobilenet_v2_fp32"): (4.7e-9, 1.0, 1.0),
    ("pixel8", "gpu", "mobilenet_v2_fp32"): (2.1e-3, 0.99993, 1.0),
    ("pixel8", "gpu", "kws_cnn_int8"): (1.1e-2, 0.9991, 1.0),
}
DRIFT = {  # (model, delegate) → max abs, cosine, top-5 against the fp32 sibling
    ("mobilenet_v2_int8", "cpu"): (6.909e-3, 0.981858, 0.6),
    ("mobilenet_v2_int8", "xnnpack"): (8.117e-3, 0.980799, 0.8),
    ("mobilenet_v2_fp16", "cpu"): (4.9e-4, 0.999975, 1.0),
    # XNNPACK upcasts the fp16 weights to the same fp32 values here: identical outputs, so on
    # host/xnnpack the fp16 variant is as exact as fp32, smaller and faster.
    ("mobilenet_v2_fp16", "xnnpack"): (0.0, 1.0, 1.0),
}
PARITY_REASON = (
    "outputs differ from pixel8-mobilenet_v2_fp32-cpu-t1: output_0: cosine 0.93 < 0.999; "
    "max abs error 0.41 > 0.0187"
)


# ---------------------------------------------------------------- frames a run could produce


def ok_row(device: str, model: str, delegate: str, threads: int, seed: int) -> dict[str, Any]:
    """A realistic ok cell: 200 log-normal samples around a median set by device and delegate."""
    median = MEDIAN_MS[model] * DELEGATE_FACTOR[(device, delegate)] / threads**0.7
    samples = median * np.random.default_rng(seed).lognormal(0.0, 0.06, size=200)
    stats = {f"latency_p{p}_ms": float(np.percentile(samples, p)) for p in (5, 90, 95, 99)}
    return base_row(device, model, delegate, threads) | stats | {
        "status": "ok",
        "latency_median_ms": float(np.median(samples)),
        "latency_mean_ms": float(samples.mean()),
        "latency_min_ms": float(samples.min()),
        "latency_max_ms": float(samples.max()),
        "latency_std_ms": float(samples.std()),
        "samples_ms": samples.tolist(),
        "init_ms": 35.0 + 40.0 * (delegate != "cpu"),
        "first_inference_ms": median * 2.5,
        "warmup_ms": median * 5,
        "peak_rss_mb": 85.5,
    } | coverage_columns(model, delegate) | parity_columns(device, model, delegate, threads) | (
        drift_columns(device, model, delegate, threads)
    )  # fmt: skip


def coverage_columns(model: str, delegate: str) -> dict[str, Any]:
    """What the runner reports: a cpu cell delegates nothing, a delegate leaves some ops."""
    total = sum(OPS[model].values())
    partitions, left = (0, OPS[model]) if delegate == "cpu" else (1, {})
    partitions, left = LEFT_ON_CPU.get((delegate, model), (partitions, left))
    on_cpu = sum(left.values())
    return {
        "nodes_delegated": total - on_cpu, "nodes_total": total, "partitions": partitions,
        "fully_delegated": on_cpu == 0, "cpu_fallback_ops": json.dumps(left),
    }  # fmt: skip


def parity_columns(device: str, model: str, delegate: str, threads: int) -> dict[str, Any]:
    """A delegate is held to its device's cpu cell, a cpu cell to the host's cpu/t1 cell."""
    reference = f"{device}-{model}-cpu-t{threads}" if delegate != "cpu" else f"host-{model}-cpu-t1"
    max_abs, cosine, topk = PARITY.get((device, delegate, model), (0.0, 1.0, 1.0))
    return {
        "parity_reference": reference, "parity_max_abs": max_abs, "parity_cosine": cosine,
        "parity_topk": topk, "parity_ok": True,
    }  # fmt: skip


def drift_columns(device: str, model: str, delegate: str, threads: int) -> dict[str, Any]:
    """The int8 and fp16 mobilenets against their fp32 sibling; kws_cnn has no fp32 variant."""
    if (model, delegate) not in DRIFT:
        return {}
    max_abs, cosine, topk = DRIFT[(model, delegate)]
    return {
        "drift_reference": f"{device}-mobilenet_v2_fp32-{delegate}-t{threads}",
        "drift_max_abs": max_abs, "drift_cosine": cosine, "drift_topk": topk,
    }  # fmt: skip


def base_row(device: str, model: str, delegate: str, threads: int) -> dict[str, Any]:
    family, _, variant = model.rpartition("_")
    return {
        "run_id": RUN["run_id"], "device": device, "device_fingerprint": json.dumps({"os": "x"}),
        "model": model, "model_sha256": "ab" * 32, "model_family": family,
        "model_variant": variant, "model_size_bytes": SIZE_BYTES[model], "delegate": delegate,
        "threads": threads, "runner": "python", "runtime": "ai_edge_litert",
        "runtime_version": "2.3.0", "failure_kind": None, "reason": None, "init_ms": None,
        "first_inference_ms": None, "latency_median_ms": None, "samples_ms": None,
        "started_at": "2025-11-23T09:40:00+00:00", "wall_s": 1.7, "attempt": 1,
    }  # fmt: skip


def not_ok_row(
    device: str, model: str, delegate: str, status: str, kind: str | None, reason: str
) -> dict[str, Any]:
    row = base_row(device, model, delegate, threads=1)
    return row | {"status": status, "failure_kind": kind, "reason": reason}


def lab_rows() -> Iterator[dict[str, Any]]:
    seed = 0
    for (device, delegate), threads_options in cells_ran().items():
        for model in BASE_MEDIAN_MS:
            for threads in threads_options:
                seed += 1
                yield ok_row(device, model, delegate, threads, seed)


def cells_ran() -> dict[tuple[str, str], tuple[int, ...]]:
    return {("host", "cpu"): (1, 2), ("host", "xnnpack"): (1, 2), ("pixel8", "cpu"): (1,)} | {
        ("pixel8", "xnnpack"): (1,),
        ("pixel8", "gpu"): (1,),
    }


def lab_frame() -> pd.DataFrame:
    """Two devices, three models, cpu/xnnpack/gpu at 1–2 threads; one gpu cell failed, one
    edgetpu cell skipped, one ok cell without samples and init (the device did not say)."""
    rows = [row for row in lab_rows() if (row["device"], row["delegate"]) != ("pixel8", "gpu")]
    rows += [ok_row("pixel8", m, "gpu", 1, 99) for m in BASE_MEDIAN_MS if m != "mobilenet_v2_int8"]
    rows.append(not_ok_row("pixel8", "mobilenet_v2_int8", "gpu", "failed", "delegate", GPU_REASON))
    rows.append(not_ok_row("pixel8", "kws_cnn_int8", "edgetpu", "skipped", None, EDGETPU_REASON))
    frame = pd.DataFrame(rows)
    no_report = (frame["device"] == "pixel8") & (frame["delegate"] == "xnnpack")
    no_report &= frame["model"] == "kws_cnn_int8"
    frame.loc[no_report, ["samples_ms", "init_ms", *coverage_columns("kws_cnn_int8", "cpu")]] = None
    return frame


def parity_failure_frame() -> pd.DataFrame:
    """The lab frame where pixel8's gpu got mobilenet_v2_fp32 wrong: failed, still measured."""
    frame = lab_frame()
    wrong = (frame.device == "pixel8") & (frame.delegate == "gpu")
    wrong &= frame.model == "mobilenet_v2_fp32"
    columns = ["status", "failure_kind", "reason", "parity_max_abs", "parity_cosine"]
    frame.loc[wrong, [*columns, "parity_topk", "parity_ok", "parity_class"]] = [
        "failed", "parity", PARITY_REASON, 0.41, 0.93, 0.4, False, "degraded",
    ]  # fmt: skip
    return frame


RETRY_REASON = "runner lost: connection reset by peer"
CORAL_REASON = "ssh: connect to host coral.lab port 22: No route to host"
QUARANTINE_REASON = f"quarantined after 2 infra failures: {CORAL_REASON}"
CORAL_FINGERPRINT = {
    "transport": "ssh", "host": "coral.lab", "board": "Coral Dev Board", "cpu": "Cortex-A53",
    "uname": "Linux 4.14.98-imx aarch64", "python": "3.9.2",
}  # fmt: skip
HOT_AFTER_C = 72.5  # pixel8's kws_cnn_int8 gpu/t1 cell: the only one at or above 70 °C


def fleet_frame() -> pd.DataFrame:
    """The lab frame grown into a fleet: an fp16 mobilenet next to fp32 and int8, a host cell
    that passed on its second attempt, pixel8 reporting temperatures (one cell ended hot) and
    a coral board quarantined after two infra failures."""
    fp16 = [
        ok_row(device, "mobilenet_v2_fp16", delegate, threads, 300 + seed)
        for seed, ((device, delegate), threads_options) in enumerate(cells_ran().items())
        for threads in threads_options
        if delegate != "gpu"
    ]
    frame = pd.concat([lab_frame(), pd.DataFrame(fp16)], ignore_index=True)
    frame = with_pixel8_temperatures(frame)
    retried = (frame.device == "host") & (frame.model == "kws_cnn_int8")
    retried &= (frame.delegate == "xnnpack") & (frame.threads == 1)
    frame.loc[retried, "attempt"] = 2
    first_try = frame[retried].assign(
        attempt=1, status="failed", failure_kind="infra", reason=RETRY_REASON
    )
    return pd.concat([first_try, frame, pd.DataFrame(coral_rows())], ignore_index=True)


def with_pixel8_temperatures(frame: pd.DataFrame) -> pd.DataFrame:
    """pixel8 warms up 3 °C a cell, 3.5 °C during each; its kws gpu cell ends hot."""
    frame = frame.copy()
    ran = frame.index[(frame.device == "pixel8") & (frame.status != "skipped")]
    for i, index in enumerate(ran):
        started = f"2025-11-23T09:{41 + i:02d}:00+00:00"
        frame.loc[index, ["started_at", "temp_before_c", "temp_after_c"]] = [
            started, 36.0 + 3 * i, 39.5 + 3 * i,
        ]  # fmt: skip
    hot = (frame.device == "pixel8") & (frame.model == "kws_cnn_int8") & (frame.delegate == "gpu")
    frame.loc[hot, "temp_after_c"] = HOT_AFTER_C
    return frame


def coral_rows() -> list[dict[str, Any]]:
    """Two cells failed for infra reasons (each retried once), then the board was quarantined
    and its last two cells failed without running."""
    cells = [("mobilenet_v2_fp32", "cpu"), ("mobilenet_v2_int8", "cpu"), ("kws_cnn_int8", "cpu")]
    cells.append(("kws_cnn_int8", "edgetpu"))
    rows = []
    for i, (model, delegate) in enumerate(cells):
        row = not_ok_row("coral", model, delegate, "failed", "infra", CORAL_REASON)
        row["device_fingerprint"] = json.dumps(CORAL_FINGERPRINT)
        if i < 2:
            rows += [row, row | {"attempt": 2}]
        else:
            rows.append(row | {"reason": QUARANTINE_REASON})
    return rows


# ---------------------------------------------------------------- histories of nightly runs


STEP_CELL = ("host", "mobilenet_v2_int8", "xnnpack", 1)  # 10 % slower from run STEP_RUN on
STEP_RUN, N_RUNS = 4, 8


def nightly_id(n: int) -> str:
    """The run id of the n-th nightly (1-based), in the form `new_run_id` writes."""
    return f"202511{n:02d}T020000000Z-{n:04x}"


def nightly_started(n: int) -> str:
    return f"2025-11-{n:02d}T02:00:00+00:00"


def measured_again(frame: pd.DataFrame, n: int, slower: set[tuple[Any, ...]]) -> pd.DataFrame:
    """`frame`'s cells as the n-th nightly measured them: fresh samples around each cell's
    median, a run-to-run wobble of 1 % per cell, and the cells in `slower` 10 % slower."""
    rng = np.random.default_rng(1000 + n)
    rows = []
    for row in frame.to_dict("records"):
        key = (row["device"], row["model"], row["delegate"], row["threads"])
        factor = rng.lognormal(0.0, 0.01) * (1.10 if key in slower else 1.0)
        rows.append(row | remeasured(row, factor, rng) | {"run_id": nightly_id(n)})
    return pd.DataFrame(rows).assign(run_started_at=nightly_started(n))


def remeasured(row: dict[str, Any], factor: float, rng: np.random.Generator) -> dict[str, Any]:
    """A timed cell's latency columns scaled by `factor`, its samples drawn again."""
    from farm.stats import summarize_latency

    if pd.isna(row["latency_median_ms"]):
        return {}
    if not isinstance(row["samples_ms"], list):  # a cell that kept no samples
        columns = ["latency_median_ms", *(f"latency_p{p}_ms" for p in (5, 90, 95, 99))]
        return {column: row[column] * factor for column in columns}
    samples = row["latency_median_ms"] * factor * rng.lognormal(0.0, 0.06, size=200)
    return {"samples_ms": samples.tolist(), **summarize_latency(samples.tolist())}


def nightly_history(frame: pd.DataFrame | None = None, runs: int = N_RUNS) -> pd.DataFrame:
    """`runs` nightlies of the lab frame's cells (or `frame`'s), oldest first, with
    `run_started_at` as `farm.store.load_history` adds it; STEP_CELL steps up at STEP_RUN."""
    frame = lab_frame() if frame is None else frame
    nightlies = [
        measured_again(frame, n, {STEP_CELL} if n >= STEP_RUN else set())
        for n in range(1, runs + 1)
    ]
    return pd.concat(nightlies, ignore_index=True)


def nightly(history: pd.DataFrame, n: int) -> pd.DataFrame:
    """The results of the n-th nightly, as its own run dir holds them."""
    return history[history.run_id == nightly_id(n)].drop(columns="run_started_at")


# ---------------------------------------------------------------- reading the page back


def figures(html: str) -> dict[str, tuple[list[dict[str, Any]], dict[str, Any]]]:
    """figure div id → (traces, layout), decoded from the page's Plotly.newPlot calls."""
    decoder = json.JSONDecoder()
    found = {}
    for match in re.finditer(r'Plotly\.newPlot\(\s*"([^"]+)",\s*', html):
        traces, end = decoder.raw_decode(html, match.end())
        layout, _ = decoder.raw_decode(html, html.index("{", end))
        found[match.group(1)] = (traces, layout)
    return found


def values(data: Any) -> list[Any]:
    """A trace array as a list: plotly writes numpy arrays as base64 typed arrays (`bdata`)."""
    if isinstance(data, dict) and "bdata" in data:
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).tolist()
    return list(data)


def section(html: str, anchor: str) -> str:
    start = html.index(f'<section id="{anchor}">')
    return html[start : html.index("</section>", start)]


def device_figures(html: str, anchor: str) -> dict[str, tuple[list[dict[str, Any]], dict]]:
    """device heading → its figure, within one section (a device shown by a sentence is left
    out)."""
    decoded, found = figures(html), {}
    for part in section(html, anchor).split('<h3 class="device">')[1:]:
        ids = re.findall(r'Plotly\.newPlot\(\s*"([^"]+)"', part)
        if ids:
            found[part[: part.index("</h3>")]] = decoded[ids[0]]
    return found


def heatmap_cell(html: str, device: str, model: str, column: str) -> dict[str, Any]:
    (trace,), _ = device_figures(html, "latency")[device]
    i, j = trace["y"].index(model), trace["x"].index(column)
    return {"z": trace["z"][i][j], "text": trace["text"][i][j], "hover": trace["customdata"][i][j]}


class TableReader(HTMLParser):
    """Rows of the HTML tables as lists of cell texts (entities decoded, as a reader sees them)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.rows[-1].append("")
            self.in_cell = True
        elif tag == "br" and self.in_cell:
            self.rows[-1][-1] += "\n"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self.in_cell = False

    def handle_data(self, data: str) -> None:
        if self.in_cell:
            self.rows[-1][-1] += data


def table_rows(html_part: str) -> list[list[str]]:
    reader = TableReader()
    reader.feed(html_part)
    return reader.rows


def cell(frame: pd.DataFrame, device: str, model: str, delegate: str, threads: int) -> pd.Series:
    match = frame[
        (frame.device == device)
        & (frame.model == model)
        & (frame.delegate == delegate)
        & (frame.threads == threads)
    ]
    return match.iloc[0]


@pytest.fixture(scope="module")
def lab_html() -> str:
    return render_dashboard(lab_frame(), RUN)


# ---------------------------------------------------------------- what a reader notices


def test_header_names_the_run_and_counts_cells_by_status(lab_html: str) -> None:
    header = lab_html[lab_html.index("<header>") : lab_html.index("</header>")]
    for fact in (RUN["run_id"], RUN["host"], RUN["git_commit"], "0.1.0", "2025-11-23 09:38:12"):
        assert fact in header
    assert "13 min 28 s" in header
    frame = lab_frame()
    assert f"{(frame.status == 'ok').sum()} ok" in header
    assert "1 failed" in header and "1 skipped" in header
    assert "Tensor G3" in header


def test_heatmap_cell_shows_median_and_speedup_against_cpu(lab_html: str) -> None:
    frame = lab_frame()
    for threads in (1, 2):
        cpu = cell(frame, "host", "mobilenet_v2_fp32", "cpu", threads)
        xnnpack = cell(frame, "host", "mobilenet_v2_fp32", "xnnpack", threads)
        speedup = cpu.latency_median_ms / xnnpack.latency_median_ms
        shown = heatmap_cell(lab_html, "host", "mobilenet_v2_fp32", f"xnnpack/t{threads}")
        assert shown["text"] == f"{xnnpack.latency_median_ms:.2f} ms · {speedup:.1f}×"
        assert f"{speedup:.1f}×" in shown["text"] and speedup > 2.5
    cpu_t1 = cell(frame, "host", "mobilenet_v2_fp32", "cpu", 1).latency_median_ms
    baseline = heatmap_cell(lab_html, "host", "mobilenet_v2_fp32", "cpu/t1")
    assert baseline["text"] == f"{cpu_t1:.1f} ms"  # 12.4 ms: three significant digits
    assert "the baseline for speedups" in baseline["hover"]


def test_heatmap_columns_put_cpu_first_and_threads_in_order(lab_html: str) -> None:
    (host,), _ = device_figures(lab_html, "latency")["host"]
    (pixel8,), _ = device_figures(lab_html, "latency")["pixel8"]
    assert host["x"] == ["cpu/t1", "cpu/t2", "xnnpack/t1", "xnnpack/t2"]
    assert pixel8["x"] == ["cpu/t1", "xnnpack/t1", "gpu/t1", "edgetpu/t1"]
    assert host["y"] == sorted(BASE_MEDIAN_MS)


def test_models_read_in_natural_order_in_heatmap_and_failures_table() -> None:
    rows = [ok_row("host", "kws_cnn_int8", "cpu", 1, seed) for seed in range(3)]
    names = ["net_10", "net_2", "net_1"]
    frame = pd.DataFrame(rows).assign(model=names)
    failed = frame.assign(delegate="xnnpack", status="failed", reason="boom")
    html = render_dashboard(pd.concat([frame, failed], ignore_index=True), RUN)
    (trace,), _ = device_figures(html, "latency")["host"]
    assert trace["y"] == ["net_1", "net_2", "net_10"]
    assert [row[1] for row in table_rows(section(html, "failures"))[1:]] == trace["y"]


def test_heatmap_hover_gives_spread_and_sample_count(lab_html: str) -> None:
    row = cell(lab_frame(), "host", "kws_cnn_int8", "cpu", 2)
    hover = heatmap_cell(lab_html, "host", "kws_cnn_int8", "cpu/t2")["hover"]
    assert "n 200 samples" in hover
    assert f"p95 {row.latency_p95_ms:.3f} ms" in hover and f"p5 {row.latency_p5_ms:.3f} ms" in hover
    assert "std " in hover
    missing = heatmap_cell(lab_html, "pixel8", "kws_cnn_int8", "xnnpack/t1")["hover"]
    assert "n — samples" in missing


def test_failed_and_skipped_cells_are_gaps_that_say_why(lab_html: str) -> None:
    failed = heatmap_cell(lab_html, "pixel8", "mobilenet_v2_int8", "gpu/t1")
    skipped = heatmap_cell(lab_html, "pixel8", "kws_cnn_int8", "edgetpu/t1")
    assert failed["z"] is None and skipped["z"] is None
    assert failed["text"] == "failed" and skipped["text"] == "skipped"
    assert "failed (delegate)" in failed["hover"] and "expected 2 inputs" in failed["hover"]
    assert "not compiled for the Edge TPU" in skipped["hover"]
    never_ran = heatmap_cell(lab_html, "pixel8", "mobilenet_v2_fp32", "edgetpu/t1")
    assert never_ran["z"] is None and never_ran["text"] == ""
    assert never_ran["hover"] == "not in this run's matrix"


def test_no_speedup_without_an_ok_cpu_cell() -> None:
    frame = lab_frame()
    cpu = (frame.device == "host") & (frame.delegate == "cpu") & (frame.threads == 1)
    frame.loc[cpu, ["status", "failure_kind", "reason"]] = ["failed", "infra", "device lost"]
    shown = heatmap_cell(render_dashboard(frame, RUN), "host", "kws_cnn_int8", "xnnpack/t1")
    assert shown["text"].endswith(" ms") and "×" not in shown["text"]


def test_distributions_plot_every_sample_per_cell_grouped_by_model(lab_html: str) -> None:
    traces, layout = device_figures(lab_html, "distributions")["host"]
    assert {t["type"] for t in traces} == {"box"} and layout["boxmode"] == "group"
    legend = [t["name"] for t in traces if t["showlegend"]]
    assert legend == ["cpu/t1", "cpu/t2", "xnnpack/t1", "xnnpack/t2"]
    boxes = {(t["x0"], t["name"]): values(t["y"]) for t in traces}
    assert len(boxes) == len(traces) == len(BASE_MEDIAN_MS) * 4
    row = cell(lab_frame(), "host", "mobilenet_v2_int8", "xnnpack", 2)
    shown = boxes[("mobilenet_v2_int8", "xnnpack/t2")]
    assert shown == pytest.approx(row.samples_ms, rel=1e-6)  # all 200 samples, as float32
    assert layout["xaxis"]["categoryarray"] == sorted(BASE_MEDIAN_MS)


def test_long_sample_lists_are_thinned_but_keep_their_extremes() -> None:
    frame = lab_frame().head(1)
    samples = np.random.default_rng(7).lognormal(1.0, 0.1, size=50_000)
    frame.at[frame.index[0], "samples_ms"] = samples.tolist()
    traces, _ = device_figures(render_dashboard(frame, RUN), "distributions")["host"]
    shown = np.asarray(values(traces[0]["y"]), dtype=float)
    assert len(shown) == 1000
    assert shown.min() == pytest.approx(samples.min()) and shown.max() == pytest.approx(
        samples.max()
    )
    assert np.median(shown) == pytest.approx(np.median(samples), rel=1e-3)


def test_startup_bars_show_init_and_first_inference_with_gaps_for_nulls(lab_html: str) -> None:
    traces, _ = device_figures(lab_html, "startup")["pixel8"]
    init, first, _steady = traces
    assert init["name"] == "init" and first["name"] == "first inference"
    categories = list(zip(*init["x"], strict=True))
    no_init = categories.index(("kws_cnn_int8", "xnnpack/t1"))
    init_ms, first_ms = values(init["y"]), values(first["y"])
    assert np.isnan(init_ms[no_init]) and first_ms[no_init] > 0
    assert ("mobilenet_v2_int8", "gpu/t1") not in categories  # the failed cell has no bar


def test_failures_table_lists_failed_and_skipped_cells_with_reasons(lab_html: str) -> None:
    rows = table_rows(section(lab_html, "failures"))
    assert rows[0] == ["Device", "Model", "Delegate", "Threads", "Status", "Failure kind", "Reason"]
    assert rows[1] == ["pixel8", "mobilenet_v2_int8", "gpu", "1", "failed", "delegate", GPU_REASON]
    assert rows[2] == ["pixel8", "kws_cnn_int8", "edgetpu", "1", "skipped", "—", EDGETPU_REASON]
    assert len(rows) == 3


def category(trace: dict[str, Any], model: str, column: str) -> int:
    """The position of a cell on a (model, delegate/tN) axis, as Plotly got it."""
    return list(zip(*trace["y"], strict=True)).index((model, column))


def traces_named(traces: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [trace for trace in traces if trace.get("name") == name]


def test_coverage_bar_shows_delegated_and_cpu_nodes_and_names_the_fallback_ops(
    lab_html: str,
) -> None:
    traces, layout = device_figures(lab_html, "coverage")["host"]
    (delegated,), (on_cpu,) = traces_named(traces, "delegated"), traces_named(traces, "on CPU")
    (labels,) = [trace for trace in traces if trace.get("mode") == "text"]
    assert layout["barmode"] == "stack" and delegated["orientation"] == "h"
    i = category(delegated, "mobilenet_v2_int8", "xnnpack/t1")
    assert values(delegated["x"])[i] == pytest.approx(64 / 65)
    assert values(on_cpu["x"])[i] == pytest.approx(1 / 65)
    assert labels["text"][category(labels, "mobilenet_v2_int8", "xnnpack/t1")] == (
        "64 / 65 nodes · 1 partition · on CPU: SOFTMAX ×1"
    )
    assert "64 of 65 nodes delegated (98 %)" in delegated["customdata"][i]
    full = category(delegated, "mobilenet_v2_fp32", "xnnpack/t2")
    assert values(on_cpu["x"])[full] == 0 and "fully delegated" in labels["text"][full]
    shown = set(zip(*delegated["y"], strict=True))
    assert not any(column.startswith("cpu/") for _, column in shown)  # left out, as captioned
    assert "cpu cells run every node on the builtin kernels" in section(lab_html, "coverage")


def test_coverage_counts_partitions_and_says_when_a_cell_did_not_report(lab_html: str) -> None:
    traces, _ = device_figures(lab_html, "coverage")["pixel8"]
    (labels,) = [trace for trace in traces if trace.get("mode") == "text"]
    gpu = category(labels, "kws_cnn_int8", "gpu/t1")
    assert labels["text"][gpu] == "10 / 12 nodes · 2 partitions · on CPU: MEAN ×1, SOFTMAX ×1"
    silent = category(labels, "kws_cnn_int8", "xnnpack/t1")
    assert labels["text"][silent] == "coverage not reported"
    (delegated,) = traces_named(traces, "delegated")
    assert values(delegated["x"])[category(delegated, "kws_cnn_int8", "xnnpack/t1")] is None


def test_parity_plots_each_compared_cell_with_zero_at_the_floor(lab_html: str) -> None:
    traces, layout = device_figures(lab_html, "parity")["host"]
    cosine, max_abs = traces  # every host cell is within tolerance: one trace per panel
    assert cosine["name"] == "within tolerance" and cosine["marker"]["color"] == "#2f855a"
    shown = list(zip(*cosine["y"], strict=True))
    assert ("kws_cnn_int8", "cpu/t1") not in shown  # the reference itself
    assert ("kws_cnn_int8", "cpu/t2") in shown and len(shown) == 3 * 3
    int8 = category(cosine, "mobilenet_v2_int8", "xnnpack/t1")
    assert values(cosine["x"])[int8] == pytest.approx(1 - 0.972864)
    assert values(max_abs["x"])[int8] == pytest.approx(7.8125e-3)
    assert "vs host-mobilenet_v2_int8-cpu-t1" in cosine["customdata"][int8]
    assert "cosine 0.973 · max abs 0.00781 · top-5 60 %" in cosine["customdata"][int8]
    same = category(cosine, "kws_cnn_int8", "cpu/t2")  # identical outputs sit on the `0` tick
    assert layout["xaxis"]["ticktext"][0] == "0"
    assert values(cosine["x"])[same] == layout["xaxis"]["tickvals"][0]
    assert "Every compared cell is within its tolerance." in section(lab_html, "parity")


def test_parity_failure_is_red_with_its_reason_and_listed_with_its_latency() -> None:
    frame = parity_failure_frame()
    html = render_dashboard(frame, RUN)
    traces, _ = device_figures(html, "parity")["pixel8"]
    over = traces_named(traces, "over tolerance")
    assert len(over) == 2 and {t["marker"]["color"] for t in over} == {"#c53030"}
    (point,) = zip(*over[0]["y"], strict=True)
    assert point == ("mobilenet_v2_fp32", "gpu/t1")
    assert values(over[0]["x"]) == pytest.approx([0.07]) and values(over[1]["x"]) == [0.41]
    hover = unescape(over[0]["customdata"][0])
    assert "failed (parity)" in hover and "cosine 0.93 < 0.999" in hover
    assert "parity: degraded" in hover
    median = cell(frame, "pixel8", "mobilenet_v2_fp32", "gpu", 1).latency_median_ms
    assert f"median {median:#.3g} ms" in hover  # a wrong delegate is still measured
    rows = table_rows(section(html, "parity"))
    assert rows[0][:5] == ["Device", "Model", "Cell", "Compared with", "Class"]
    assert rows[1] == [
        "pixel8", "mobilenet_v2_fp32", "gpu/t1", "pixel8-mobilenet_v2_fp32-cpu-t1", "degraded",
        "0.930",
        "0.41", "40 %", PARITY_REASON,
    ]  # fmt: skip
    assert len(rows) == 2


def test_drift_of_int8_against_its_fp32_sibling_is_tabulated(lab_html: str) -> None:
    part = section(lab_html, "drift")
    host, pixel8 = part.split('<h3 class="device">')[1:]
    rows = table_rows(host)
    assert rows[0] == ["Model", "Against", "cpu/t1", "cpu/t2", "xnnpack/t1", "xnnpack/t2"]
    assert rows[1][:3] == [
        "mobilenet_v2_int8", "mobilenet_v2_fp32", "cosine 0.982\ntop-5 60 %\nmax abs 0.00691",
    ]  # fmt: skip
    assert rows[1][4] == "cosine 0.981\ntop-5 80 %\nmax abs 0.00812"
    assert len(rows) == 2  # kws_cnn_int8 has no fp32 sibling
    assert table_rows(pixel8)[0] == ["Model", "Against", "cpu/t1", "xnnpack/t1"]  # gpu failed
    assert 'class="over"' not in part


def test_drift_over_a_gated_tolerance_is_red_and_listed_with_parity_failures() -> None:
    frame = lab_frame()
    gated = (frame.device == "host") & (frame.delegate == "xnnpack") & (frame.threads == 1)
    gated &= frame.model == "mobilenet_v2_int8"
    reason = "drift from host-mobilenet_v2_fp32-xnnpack-t1: output_0: cosine 0.980799 < 0.99"
    frame.loc[gated, ["status", "failure_kind", "reason", "parity_class"]] = [
        "failed", "parity", reason, "degraded",
    ]  # fmt: skip
    html = render_dashboard(frame, RUN)
    (over,) = re.findall(r'<span class="over">(.*?)</span>', section(html, "drift"))
    assert over.startswith("cosine 0.981<br>") and over.endswith("over tolerance")
    rows = table_rows(section(html, "parity"))
    assert rows[1][:6] == [
        "host", "mobilenet_v2_int8", "xnnpack/t1", "host-mobilenet_v2_fp32-xnnpack-t1",
        "degraded", "0.981",
    ]  # fmt: skip
    assert rows[1][-1] == reason


def test_a_cell_that_failed_parity_keeps_its_latency_in_the_heatmap_with_a_mark() -> None:
    frame = parity_failure_frame()
    html = render_dashboard(frame, RUN)
    shown = heatmap_cell(html, "pixel8", "mobilenet_v2_fp32", "gpu/t1")
    median = cell(frame, "pixel8", "mobilenet_v2_fp32", "gpu", 1).latency_median_ms
    speedup = cell(frame, "pixel8", "mobilenet_v2_fp32", "cpu", 1).latency_median_ms / median
    assert shown["text"] == f"{median:#.3g} ms · {speedup:.1f}× ⚠ parity"
    assert shown["z"] == pytest.approx(np.log10(median))  # coloured like any timed cell
    assert "failed parity" in shown["hover"] and "cosine 0.93 &lt; 0.999" in shown["hover"]
    assert f"median {median:#.3g} ms" in shown["hover"]
    (trace,), layout = device_figures(html, "latency")["pixel8"]
    i, j = trace["y"].index("mobilenet_v2_fp32"), trace["x"].index("gpu/t1")
    (outline,) = layout["shapes"]  # the one parity failure is outlined in red
    assert (outline["x0"], outline["x1"], outline["y0"], outline["y1"]) == (
        j - 0.5, j + 0.5, i - 0.5, i + 0.5,
    )  # fmt: skip
    assert outline["line"]["color"] == "#c53030"
    other = heatmap_cell(html, "pixel8", "mobilenet_v2_int8", "gpu/t1")  # a delegate failure
    assert other["z"] is None and other["text"] == "failed"


@pytest.fixture(scope="module")
def fleet_html() -> str:
    return render_dashboard(fleet_frame(), RUN)


def devices_table(html: str) -> dict[str, dict[str, str]]:
    """The devices table: device → column header → cell text."""
    header, *rows = table_rows(section(html, "devices"))
    return {row[0]: dict(zip(header, row, strict=True)) for row in rows}


def test_devices_table_gives_identity_outcomes_retries_and_quarantine(fleet_html: str) -> None:
    devices = devices_table(fleet_html)
    assert list(devices) == ["coral", "host", "pixel8"]
    host, coral, pixel8 = devices["host"], devices["coral"], devices["pixel8"]
    assert host["Identity"] == "hardware: x86_64 workstation\nsystem: Debian 12\nabi: x86_64"
    assert "ai_edge_litert 2.3.0" in host["Runtimes"]
    assert host["Cells"].splitlines() == ["16 ok", "0 failed", "0 skipped"]
    assert host["Health"] == "retried\nretried 1: kws_cnn_int8 xnnpack/t1 → ok on attempt 2"
    assert coral["Identity"].splitlines() == [  # from the cells' fingerprint: not in run.json
        "transport: ssh · host coral.lab",
        "hardware: Coral Dev Board · Cortex-A53",
        "system: Linux 4.14.98-imx aarch64",
    ]
    assert "python 3.9.2" in coral["Runtimes"]
    assert coral["Cells"].splitlines() == ["0 ok", "4 failed (infra 4)", "0 skipped"]
    health = coral["Health"].splitlines()
    assert health[0] == "quarantined" and health[1].startswith("retried 2: mobilenet_v2_fp32")
    assert health[2:] == ["quarantined: 2 cells not run", QUARANTINE_REASON]
    assert pixel8["Cells"].splitlines() == ["10 ok", "1 failed (delegate 1)", "1 skipped"]
    assert pixel8["Health"] == "healthy" and "Tensor G3" in pixel8["Identity"]
    badges = re.findall(r'<span class="badge (\w+)">(\w+)</span>', section(fleet_html, "devices"))
    assert badges == [("failed", "quarantined"), ("warn", "retried"), ("ok", "healthy")]


def test_hot_cells_are_flagged_in_the_table_and_ringed_in_the_temperature_strip(
    fleet_html: str,
) -> None:
    devices = devices_table(fleet_html)
    assert devices["pixel8"]["Temperature"].splitlines() == [
        "before 36.0–66.0 °C", f"after 39.5–{HOT_AFTER_C} °C", "1 ended hot (≥ 70 °C, the default)",
    ]  # fmt: skip
    assert devices["host"]["Temperature"] == "not reported"
    part = section(fleet_html, "devices")
    assert '<span class="over">1 ended hot' in part
    assert "else at or above 70 °C" in part  # the rule, said once above the strips
    assert "host reports no temperature" in part and "coral reports no temperature" in part
    traces, layout = device_figures(fleet_html, "devices")["pixel8"]
    (hot,) = traces_named(traces, "ended hot (≥ 70 °C)")
    assert values(hot["y"]) == [HOT_AFTER_C]
    assert "<b>kws_cnn_int8</b> · gpu/t1" in hot["customdata"][0]
    (after,) = traces_named(traces, "after the cell")
    assert len(values(after["y"])) == 11 and max(values(after["y"])) == HOT_AFTER_C
    assert values(after["x"]) == list(range(1, 12))  # in the order the cells started
    assert layout["shapes"][0]["y0"] == 70  # the threshold, dashed


def test_a_cooldown_recorded_in_run_json_sets_the_hot_threshold() -> None:
    run = RUN | {"devices": RUN["devices"] | {"pixel8": {"cooldown": {"max_temp_c": 60}}}}
    row = devices_table(render_dashboard(fleet_frame(), run))["pixel8"]
    assert row["Temperature"].endswith("4 ended hot (≥ 60 °C, the cooldown's max_temp_c)")


def test_a_run_without_temperatures_says_so_in_one_sentence(lab_html: str) -> None:
    part = section(lab_html, "devices")
    assert "No device reported a temperature" in part and "Plotly.newPlot" not in part
    assert {row["Temperature"] for row in devices_table(lab_html).values()} == {"not reported"}


def test_pareto_front_keeps_every_point_no_other_point_beats() -> None:
    # (size, latency, error): smaller is better on each
    assert pareto_front([(3, 1, 0.02), (7, 2, 0.0), (14, 3, 0.0)]) == [True, True, False]
    assert pareto_front([(1, 1, 1), (1, 1, 1)]) == [True, True]  # equal points: both stay
    assert pareto_front([(1, 2, 0), (2, 1, 0), (2, 2, 0)]) == [True, True, False]
    assert pareto_front([(5, 5, 5)]) == [True] and pareto_front([]) == []
    assert dominated_by([(3, 1, 0.02), (7, 2, 0.0), (14, 3, 0.0)]) == [[], [], [1]]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), max_size=30))
def test_milliseconds_formatted_together_read_as_one_at_a_time(values: list[float]) -> None:
    # Trend hovers format a column at once; a point must read as the rest of the page writes it.
    assert format_ms_all(values) == [format_ms(value) for value in values]


def test_milliseconds_formatted_together_read_as_the_page_writes_them() -> None:
    assert format_ms_all([0.0, 9.995, 1000.0, float("nan")]) == [
        "0 ms", "9.99 ms", "1000 ms", "—"
    ]  # fmt: skip


# Small integers: many ties on one, two or every axis, where a sweep goes wrong first.
AXIS = st.integers(min_value=0, max_value=3).map(float)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 3).flatmap(lambda n: st.lists(st.tuples(*[AXIS] * n), max_size=40)))
def test_pareto_sweep_finds_exactly_the_points_another_point_beats(points: list) -> None:
    def beats(a: tuple, b: tuple) -> bool:
        return all(x <= y for x, y in zip(a, b, strict=True)) and a != b

    expected = [[j for j, other in enumerate(points) if beats(other, p)] for p in points]
    assert dominated_by(points) == expected
    assert pareto_front(points) == [not found for found in expected]


def tradeoff_tables(html: str) -> dict[tuple[str, str], list[list[str]]]:
    """(family, device) → the rows of its table in the quantization section."""
    found = {}
    for family_part in section(html, "quantization").split('<h3 class="part">')[1:]:
        family = unescape(family_part[: family_part.index("</h3>")])
        for device_part in family_part.split('<h3 class="device">')[1:]:
            device = unescape(device_part[: device_part.index("</h3>")])
            found[(family, device)] = table_rows(device_part)
    return found


def test_quantization_marks_the_pareto_front_per_device_and_delegate(fleet_html: str) -> None:
    tables = tradeoff_tables(fleet_html)
    assert list(tables) == [("mobilenet_v2", "host"), ("mobilenet_v2", "pixel8")]
    header, *rows = tables[("mobilenet_v2", "host")]
    assert header == ["Variant", "Size", "cpu/t1", "cpu/t2", "xnnpack/t1", "xnnpack/t2"]
    assert [row[:2] for row in rows] == [
        ["fp32", "14.0 MB"], ["fp16", "7.00 MB"], ["int8", "3.50 MB"],
    ]  # fmt: skip
    fp32, fp16, int8 = (row[header.index("xnnpack/t1")].splitlines() for row in rows)
    median = cell(fleet_frame(), "host", "mobilenet_v2_int8", "xnnpack", 1).latency_median_ms
    assert int8 == [f"{median:#.3g} ms", "error 0.0192", "★ on the front"]
    assert fp16[1:] == ["error 0", "★ on the front"]  # as exact as fp32, smaller, faster
    assert fp32[1:] == ["error 0 (reference)", "dominated by fp16"]
    on_cpu = [row[header.index("cpu/t1")].splitlines() for row in rows]
    # fp16 drifts a little on cpu: nobody beats fp32, all are on the front, so none is marked
    assert [len(lines) for lines in on_cpu] == [2, 2, 2]
    assert not any("★" in line for lines in on_cpu for line in lines)
    traces, layout = device_figures_in(fleet_html, "quantization")[("mobilenet_v2", "host")]
    (rings,) = traces_named(traces, "Pareto front")
    ringed = {label for label in rings["text"] if label.endswith("xnnpack/t1")}
    assert ringed == {"fp16 · xnnpack/t1", "int8 · xnnpack/t1"}
    assert layout["xaxis"]["ticktext"] == ["fp32<br>14.0 MB", "fp16<br>7.00 MB", "int8<br>3.50 MB"]
    (xnnpack_t1,) = traces_named(traces, "xnnpack/t1")
    assert values(xnnpack_t1["x"]) == [3.5, 7.0, 14.0]  # smallest file first along the line


def test_quantization_leaves_out_single_variant_families_and_lone_cells(fleet_html: str) -> None:
    part = section(fleet_html, "quantization")
    assert "Left out, one variant timed: kws_cnn." in part
    header, *rows = tradeoff_tables(fleet_html)[("mobilenet_v2", "pixel8")]
    gpu = [row[header.index("gpu/t1")] for row in rows]
    assert gpu[0].endswith("alone here") and gpu[1:] == ["—", "—"]  # int8 failed, no fp16 run


def device_figures_in(html: str, anchor: str) -> dict[tuple[str, str], tuple[list, dict]]:
    """(part heading, device heading) → its figure, within one section."""
    decoded, found = figures(html), {}
    for part in section(html, anchor).split('<h3 class="part">')[1:]:
        title = unescape(part[: part.index("</h3>")])
        for device_part in part.split('<h3 class="device">')[1:]:
            device = unescape(device_part[: device_part.index("</h3>")])
            (div_id,) = re.findall(r'Plotly\.newPlot\(\s*"([^"]+)"', device_part)
            found[(title, device)] = decoded[div_id]
    return found


def test_sections_say_so_when_a_run_has_no_parity_or_coverage_columns() -> None:
    columns = [c for c in lab_frame().columns if not c.startswith(("parity_", "drift_", "nodes_"))]
    html = render_dashboard(lab_frame()[columns], RUN)
    for anchor, sentence in [
        ("parity", "the parity columns of this run are empty"),
        ("drift", "the drift columns are empty"),
        ("coverage", "the coverage columns are empty"),
    ]:
        part = section(html, anchor)
        assert sentence in part and "Plotly.newPlot" not in part and "<table" not in part


def present(row: dict[str, Any]) -> dict[str, Any]:
    """The fields a CellResult would carry: pandas' NaN/None placeholders left out."""
    return {k: v for k, v in row.items() if not (np.isscalar(v) or v is None) or pd.notna(v)}


def test_results_loaded_back_from_the_store_render_the_same(tmp_path: Path) -> None:
    """Through the real seam: CellResult rows → results.parquet → load_results → dashboard."""
    from farm import store
    from farm.spec import CellResult

    rows = [present(row) for row in lab_frame().to_dict("records")]
    store.write_results(tmp_path, [CellResult.from_row(row) for row in rows])
    loaded = render_dashboard(store.load_results(tmp_path), RUN)
    direct = render_dashboard(lab_frame(), RUN)
    for device, model, column in [  # an ok cell, a failed one, one without samples
        ("host", "kws_cnn_int8", "xnnpack/t2"),
        ("pixel8", "mobilenet_v2_int8", "gpu/t1"),
        ("pixel8", "kws_cnn_int8", "xnnpack/t1"),
    ]:
        expected = heatmap_cell(direct, device, model, column)
        assert heatmap_cell(loaded, device, model, column) == expected


# ---------------------------------------------------------------- safe and self-contained


HOSTILE_NAMES = {  # in names and in the cell ids that references are made of
    "kws_cnn_int8": HOSTILE,
    "mobilenet_v2_fp32": "<i>mobilenet_v2_fp32</i>",
    "pixel8": 'pix"el<b>8</b>',
    "SOFTMAX": "<u>SOFTMAX</u>",  # a custom op's name comes from the model file
}


HOSTILE_FAMILY = "<s>mobilenet_v2</s>"


def hostile_frame(frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """A frame (the lab frame unless given) whose user strings are markup."""
    frame = lab_frame() if frame is None else frame
    for column in ("model", "device", "parity_reference", "drift_reference", "cpu_fallback_ops"):
        for name, hostile in HOSTILE_NAMES.items():
            frame[column] = frame[column].str.replace(name, hostile, regex=False)
    frame["model_family"] = frame["model_family"].str.replace("mobilenet_v2", HOSTILE_FAMILY)
    frame.loc[frame.status == "failed", "reason"] = "</td></table><script>alert(2)</script>"
    return frame


def test_user_strings_render_as_text_never_as_markup() -> None:
    html = render_dashboard(hostile_frame(), RUN | {"host": "<img src=x onerror=alert(3)>"})
    assert "alert(" not in html.replace("alert(1)", "").replace("alert(2)", "").replace(
        "alert(3)", ""
    )
    for raw in ("<script>alert", "<img src=x", "<b>8</b>", "</table><script>", "<i>", "<u>"):
        assert raw not in html
    assert "<s>" not in html and {family for family, _ in tradeoff_tables(html)} == {HOSTILE_FAMILY}
    assert "&lt;img src=x onerror=alert(3)&gt;" in html
    rows = table_rows(section(html, "failures"))
    assert rows[1][:2] == ['pix"el<b>8</b>', "mobilenet_v2_int8"]
    assert rows[1][-1] == "</td></table><script>alert(2)</script>"
    assert table_rows(section(html, "drift"))[1][1] == "<i>mobilenet_v2_fp32</i>"
    assert [row[0] for row in table_rows(section(html, "devices"))[1:]] == [
        "host", 'pix"el<b>8</b>',
    ]  # fmt: skip
    traces, _ = device_figures(html, "coverage")["host"]
    (labels,) = [trace for trace in traces if trace.get("mode") == "text"]
    assert labels["text"][category(labels, "&lt;script&gt;alert(1)&lt;/script&gt;", "xnnpack/t1")]
    assert "on CPU: &lt;u&gt;SOFTMAX&lt;/u&gt; ×1" in " ".join(labels["text"])


def test_plotly_data_cannot_close_the_script_element() -> None:
    html = render_dashboard(hostile_frame(), RUN)
    assert html.count("<script") == 1 + len(figures(html))  # plotly.js + one per figure
    assert html.count("</script>") == html.count("<script")
    (trace,), _ = device_figures(html, "latency")["host"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in trace["y"]  # Plotly shows entities as text


def test_plotly_js_is_inlined_once_and_nothing_is_fetched(lab_html: str) -> None:
    bundle = get_plotlyjs()
    assert lab_html.count(bundle[:400]) == 1 and lab_html.count(bundle[-400:]) == 1
    page = lab_html.replace(bundle, "")
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=", page, re.I)
    assert "http://" not in page and "https://" not in page and "@import" not in page


def test_empty_frame_renders_a_page_that_says_so() -> None:
    for empty in (pd.DataFrame(), lab_frame().iloc[0:0]):
        html = render_dashboard(empty, {})
        assert "0 cells" in html and "No cell finished ok" in html
        assert "<script" not in html  # no figure, so no plotly.js either


def test_only_failed_cells_still_render_with_the_failures_table() -> None:
    frame = lab_frame()
    frame["status"], frame["failure_kind"], frame["reason"] = (
        "failed",
        "infra",
        "adb: device offline",
    )
    html = render_dashboard(frame, RUN)
    assert "No cell finished ok" in html
    assert f"{len(frame)} failed" in html
    assert len(table_rows(section(html, "failures"))) == len(frame) + 1


def test_a_retried_cell_shows_its_last_attempt() -> None:
    frame = lab_frame()
    first = frame.iloc[[0]].assign(status="failed", failure_kind="timeout", reason="timed out")
    frame = pd.concat([first.assign(attempt=0), frame], ignore_index=True)
    html = render_dashboard(frame, RUN)
    assert "timed out" not in section(html, "failures")


def test_write_dashboard_writes_the_page_where_asked(tmp_path: Path) -> None:
    path = write_dashboard(lab_frame(), RUN, tmp_path / "runs" / "r1" / "dashboard.html")
    assert path == tmp_path / "runs" / "r1" / "dashboard.html"
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_importing_the_dashboard_does_not_import_pandas_or_plotly() -> None:
    code = "import sys, farm.dashboard; print(sorted({'pandas', 'plotly'} & set(sys.modules)))"
    env = os.environ | {"PYTHONPATH": str(Path(__file__).parents[1])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "[]", out.stderr


# ---------------------------------------------------------------- in a real browser


def chromium_dump_dom(chromium: str, page: Path, profile: Path) -> tuple[str, str]:
    """The DOM after scripts ran, and the console log (no network: it is a file URL)."""
    argv = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--no-first-run",
        f"--user-data-dir={profile}", "--virtual-time-budget=15000", "--enable-logging=stderr",
        "--v=0", "--dump-dom", page.as_uri(),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
    return done.stdout, done.stderr


@pytest.mark.lab
def test_every_chart_draws_in_headless_chromium_without_errors(tmp_path: Path) -> None:
    from farm.compare import compare_runs

    chromium = require_tool("chromium")
    history = nightly_history(hostile_frame(fleet_frame()))  # with a change point
    comparison = compare_runs(nightly(history, N_RUNS - 1), nightly(history, N_RUNS))
    page = write_dashboard(
        nightly(history, N_RUNS), RUN, tmp_path / "dashboard.html", history=history,
        comparison=comparison, baseline=nightly_id(N_RUNS - 1),
    )  # fmt: skip
    dom, console = chromium_dump_dom(chromium, page, tmp_path / "profile")
    n_figures = page.read_text(encoding="utf-8").count('class="plotly-graph-div"')
    # latency, distributions, start-up, parity, coverage, quantization and trends × host and
    # pixel8 (coral ran nothing), pixel8's temperature strip and the comparison's forest plot
    assert n_figures == 16
    assert dom.count('class="main-svg"') >= n_figures, console[-2000:]
    assert "Uncaught" not in console
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom  # drawn by Plotly as text
    assert "<script>alert" not in dom


def test_the_devices_line_leaves_out_what_a_device_does_not_have() -> None:
    from farm.dashboard.header import devices_line

    line = unescape(str(devices_line({"host": {"os": "Linux", "cooldown": None}})))
    assert "host (os=Linux)" in line and "cooldown" not in line and "None" not in line


@pytest.mark.parametrize("values_ms", [[0.55, 0.6], [0.5, 0.5], [3.1, 3.4, 4.9]])
def test_a_latency_axis_within_one_step_still_shows_labelled_ticks(values_ms: list[float]) -> None:
    from farm.dashboard.theme import log_axis

    axis = log_axis("latency", values_ms)
    ticks = cast(list[float], axis["tickvals"])
    low, high = cast(list[float], axis["range"])
    shown = [tick for tick in ticks if low <= math.log10(tick) <= high]
    assert len(shown) >= 2 and shown[0] <= min(values_ms) and shown[-1] >= max(values_ms)
