"""A synthetic lab history for the scale benchmarks: run directories shaped exactly like the
farm's own (results.parquet with the results schema, run.json), one run per day.

The constant columns (runner, runtime and its version, model sha256, api …) are copied from a
real results.parquet a small `farm run` wrote, so the files carry what real ones carry; the
latencies are log-normal around a per-cell level that stays put from run to run (with a 30 %
step in one cell half-way, for the change-point table). A few cells fail the same pre-flight
check on every run and one device's gpu cells fail parity, as a real lab's do.

    python -m tests.perf.synthetic_lab OUT --template reports/runs/<id>/results.parquet \
        --runs 365 --devices 15 --models 16 --samples 50
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from farm.store import RESULTS, RUN_INFO, arrow_schema, status_counts

# 12 delegate/thread pairs, as a lab with CPU, XNNPACK, LiteRT's CPU, a GPU and an NPU runs them.
PAIRS = (
    *(("cpu", t) for t in (1, 2, 4)),
    *(("xnnpack", t) for t in (1, 2, 4)),
    *(("litert_cpu", t) for t in (1, 2, 4)),
    ("gpu", 1),
    ("gpu_fp32", 1),
    ("npu", 1),
)
SPEEDUP = {"cpu": 1.0, "xnnpack": 2.5, "litert_cpu": 2.2, "gpu": 4.0, "gpu_fp32": 3.0, "npu": 6.0}
PREFLIGHT = "pre-flight: the dispatch library libLiteRtDispatch_Vendor.so is not on the device"
START = dt.datetime(2025, 12, 1, 2, 0, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Lab:
    devices: int
    models: int
    samples: int

    @property
    def cells(self) -> int:
        return self.devices * self.models * len(PAIRS)


def template_row(path: Path) -> dict[str, Any]:
    """The first ok row of a real results file (any row when none is ok)."""
    rows = pq.read_table(path).to_pylist()
    return next((row for row in rows if row["status"] == "ok"), rows[0])


def write_history(out: Path, template: dict[str, Any], lab: Lab, runs: int, seed: int = 0) -> None:
    """`runs` run directories under out/runs/, a day apart."""
    rng = np.random.default_rng(seed)
    levels_ms = base_levels(lab, rng)
    for number in range(runs):
        shifted = levels_ms.copy()
        if number >= runs // 2:
            shifted[0] *= 1.3  # one cell steps up half-way through the history
        write_run(out / "runs", number, template, lab, shifted, rng)


def base_levels(lab: Lab, rng: np.random.Generator) -> np.ndarray:
    """Each cell's typical median: a model's cpu time, divided by its delegate's speedup."""
    model_ms = rng.lognormal(np.log(20), 1.0, lab.models)
    device_factor = rng.lognormal(0, 0.4, lab.devices)
    pair_factor = np.array([1 / (SPEEDUP[d] * (1 + 0.6 * (t - 1) / 3)) for d, t in PAIRS])
    levels = device_factor[:, None, None] * model_ms[None, :, None] * pair_factor[None, None, :]
    return levels.ravel()


def run_id_of(number: int) -> tuple[str, dt.datetime]:
    started = START + dt.timedelta(days=number)
    return f"{started:%Y%m%dT%H%M%S}000Z-{number:04x}", started


def write_run(
    root: Path, number: int, template: dict[str, Any], lab: Lab, levels_ms: np.ndarray,
    rng: np.random.Generator,
) -> Path:  # fmt: skip
    run_id, started = run_id_of(number)
    run_dir = root / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    columns = cell_columns(lab, run_id, levels_ms, rng)
    n = lab.cells
    arrays = {
        field.name: columns.get(field.name, pa.array([template.get(field.name)] * n, field.type))
        for field in arrow_schema()
    }
    table = pa.table(arrays, schema=arrow_schema())
    pq.write_table(table, run_dir / RESULTS)
    info = {
        "run_id": run_id, "started_at": started.isoformat(), "host": "synthetic",
        "finished_at": (started + dt.timedelta(hours=3)).isoformat(), "seed": number,
        "cells": n, "devices": {f"dev{d}": {"model": f"Board {d}"} for d in range(lab.devices)},
        "statuses": status_counts(table.column("status").to_pylist()),
    }  # fmt: skip
    (run_dir / RUN_INFO).write_text(json.dumps(info))
    return run_dir


def cell_columns(
    lab: Lab, run_id: str, levels_ms: np.ndarray, rng: np.random.Generator
) -> dict[str, pa.Array]:
    n = lab.cells
    device, model, pair = np.unravel_index(np.arange(n), (lab.devices, lab.models, len(PAIRS)))
    delegates = [PAIRS[p][0] for p in pair]
    failed = np.array([d == "npu" for d in delegates]) & (device % 5 == 4)  # no dispatch library
    parity_failed = np.array([d == "gpu" for d in delegates]) & (device == 1)
    samples = rng.lognormal(np.log(levels_ms)[:, None], 0.08, (n, lab.samples))
    quantiles = np.percentile(samples, [5, 50, 90, 95, 99], axis=1)
    ok = ~failed

    def metric(values: np.ndarray) -> pa.Array:
        return pa.array(values, pa.float64(), mask=failed)

    flat = samples[ok].ravel()
    offsets = np.concatenate([[0], np.cumsum(np.where(ok, lab.samples, 0))]).astype(np.int32)
    status = np.where(failed, "failed", np.where(parity_failed, "failed", "ok"))
    kind = np.where(failed, "infra", np.where(parity_failed, "parity", None))
    reason = np.where(failed, PREFLIGHT, np.where(parity_failed, "max abs error 0.31 > 0.05", None))
    return {
        "run_id": pa.array([run_id] * n),
        "device": pa.array([f"dev{d}" for d in device]),
        "model": pa.array([f"model_{m}" for m in model]),
        "delegate": pa.array(delegates),
        "threads": pa.array([PAIRS[p][1] for p in pair], pa.int64()),
        "status": pa.array(status.tolist()),
        "failure_kind": pa.array(kind.tolist(), pa.string()),
        "reason": pa.array(reason.tolist(), pa.string()),
        "latency_p5_ms": metric(quantiles[0]),
        "latency_median_ms": metric(quantiles[1]),
        "latency_p90_ms": metric(quantiles[2]),
        "latency_p95_ms": metric(quantiles[3]),
        "latency_p99_ms": metric(quantiles[4]),
        "latency_mean_ms": metric(samples.mean(axis=1)),
        "latency_min_ms": metric(samples.min(axis=1)),
        "latency_max_ms": metric(samples.max(axis=1)),
        "latency_std_ms": metric(samples.std(axis=1)),
        "latency_count": pa.array(np.full(n, lab.samples), pa.int64(), mask=failed),
        "samples_ms": pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat)),
        "parity_ok": pa.array(~parity_failed, pa.bool_(), mask=failed),
        "parity_class": pa.array(np.where(parity_failed, "accuracy", None).tolist(), pa.string()),
        "attempt": pa.array(np.ones(n, dtype=np.int64)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--template", type=Path, required=True, help="a real results.parquet")
    parser.add_argument("--runs", type=int, default=365)
    parser.add_argument("--devices", type=int, default=15)
    parser.add_argument("--models", type=int, default=16)
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args()
    lab = Lab(args.devices, args.models, args.samples)
    write_history(args.out, template_row(args.template), lab, args.runs)


if __name__ == "__main__":
    main()
