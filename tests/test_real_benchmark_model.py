"""The lab's real `benchmark_model` (TFLite's own tool, Linux x86_64, found through
FARM_BENCHMARK_MODEL: see tests/native/programs.py) on virtual phones with Android's userland
(mksh + toybox, no Python), end to end: staging, argv, inputs, outputs, parity, coverage (from
the verbose build's "Replacing" lines too), op profiling, memory footprint, a crash, a timeout.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from farm.sim.device import VirtualDevice

from .lab import Devices, descendants, farm, phone_entry, phones_behind_adb, run_lab
from .native.programs import CRASHING_DELEGATE, build_library, real_benchmark_model

pytestmark = pytest.mark.lab
SHIPPED = [
    f"{family}_{variant}"
    for family in ("kws_dscnn", "mobilenet_v2")
    for variant in ("fp32", "fp16", "int8")
]
# This host, the parity reference of every run here.
HOST: Devices = {"host": {"transport": "local", "delegates": ["cpu"], "threads": [1]}}


def phone(name: str, device: VirtualDevice, port: int, **keys: object) -> Devices:
    keys = {"delegates": ["cpu", "xnnpack"], "threads": [1], **keys}
    return {name: phone_entry(device.serial, port, **keys)}


@pytest.fixture(scope="module")
def every_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pd.DataFrame]:
    """Two virtual phones, one with the Release build and one with its verbose copy, each
    running the six shipped models with cpu and xnnpack."""
    release, verbose = real_benchmark_model(), real_benchmark_model(verbose=True)
    root = tmp_path_factory.mktemp("every-model")
    with phones_behind_adb(root, "pixel8", 2) as (server, (first, second)):
        entries = phone("release", first, server.port, benchmark_model=release)
        entries |= phone("verbose", second, server.port, benchmark_model=verbose)
        yield run_lab(root, entries | HOST, SHIPPED, runs=3, retries=0)


def test_two_phones_run_every_shipped_model_with_parity(every_model: pd.DataFrame) -> None:
    cells = every_model[every_model.device != "host"]
    assert len(cells) == 2 * 6 * 2
    assert list(cells.status) == ["ok"] * len(cells), cells.reason.tolist()
    assert (cells.runtime == "benchmark_model").all()
    # Outputs the tool wrote from the farm's inputs, held to the reference: the phone's cpu
    # cell to the host's (LiteRT's builtin kernels), xnnpack to the phone's cpu cell.
    assert cells.parity_ok.all() and cells.parity_reference.notna().all()
    assert cells[cells.delegate == "cpu"].parity_reference.str.startswith("host").all()
    # The farm's --runs, not the tool's own 1-second floor, and the tool's own footprint.
    assert (cells.latency_count == 3).all()
    assert cells.peak_rss_mb.between(1, 100).all(), cells.peak_rss_mb.tolist()


def coverage(frame: pd.DataFrame, device: str, model: str) -> tuple[object, ...]:
    row = frame.set_index(["device", "model", "delegate"]).loc[(device, model, "xnnpack")]
    return row.nodes_delegated, row.nodes_total, row.partitions, row.fully_delegated


def test_coverage_from_the_verdict_and_from_the_replacing_lines(every_model: pd.DataFrame) -> None:
    """A Release build logs only "partially executed ... w/ 1 delegate kernels": no node
    counts. Its verbose copy logs "Replacing 11 out of 12 node(s)": the counts."""
    release = coverage(every_model, "release", "kws_dscnn_int8")
    assert pd.isna(release[0]) and pd.isna(release[1]) and release[2:] == (1, False)
    assert coverage(every_model, "verbose", "kws_dscnn_int8") == (11, 12, 2, False)
    for device in ("release", "verbose"):
        delegated, total, _, fully = coverage(every_model, device, "mobilenet_v2_fp32")
        assert fully and delegated == total > 0  # "completely executed by the delegate"
    cpu = every_model[(every_model.device != "host") & (every_model.delegate == "cpu")]
    assert (cpu.nodes_delegated == 0).all() and (cpu.nodes_total > 0).all()


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[pd.DataFrame, Path]]:
    """A phone asking for op profiling, with a delegate that crashes the tool."""
    binary = real_benchmark_model()
    root = tmp_path_factory.mktemp("faults")
    crashing = build_library(CRASHING_DELEGATE, root)
    with phones_behind_adb(root, "pixel8", 1) as (server, (device,)):
        entry = phone(
            "phone",
            device,
            server.port,
            benchmark_model=binary,
            delegates=["cpu", "external"],
            external_delegate={"path": crashing},
            runner_flags=["--enable_op_profiling=true"],
        )
        yield run_lab(root, entry | HOST, "kws_dscnn_fp32", runs=3, retries=0), root / "run"


def test_op_profiling_asked_with_runner_flags_is_in_the_cells_log(
    faults: tuple[pd.DataFrame, Path],
) -> None:
    frame, run_dir = faults
    cpu = frame.set_index(["device", "delegate"]).loc[("phone", "cpu")]
    assert cpu.status == "ok" and cpu.parity_ok, cpu.reason
    code, shown = farm("parse-log", run_dir / "raw" / "phone-kws_dscnn_fp32-cpu-t1.log")
    ops = [row for row in json.loads(shown)["op_profile"] if row["phase"] == "run"]
    assert code == 0 and len(ops) == 12  # every node of the model, once per invoke
    assert {row["node_type"] for row in ops} >= {"CONV_2D", "DEPTHWISE_CONV_2D", "SOFTMAX"}


def test_a_delegate_that_crashes_the_tool_fails_its_cell_with_the_signal(
    faults: tuple[pd.DataFrame, Path],
) -> None:
    frame, _ = faults
    crashed = frame.set_index(["device", "delegate"]).loc[("phone", "external")]
    assert (crashed.status, crashed.failure_kind) == ("failed", "delegate")
    assert crashed.reason.startswith("benchmark_model was killed by signal 11 (SIGSEGV)")
    assert crashed.attempt == 1  # the same crash again: not retried


def test_a_tool_running_past_the_timeout_is_killed_on_the_phone(tmp_path: Path) -> None:
    binary = real_benchmark_model()
    with phones_behind_adb(tmp_path, "pixel8", 1) as (server, (device,)):
        entry = phone("phone", device, server.port, benchmark_model=binary, delegates=["cpu"])
        frame = run_lab(
            tmp_path, entry | HOST, "mobilenet_v2_fp32", runs=10**7, timeout_s=2, retries=0
        )
        left = [pid for pid in descendants(os.getpid()) if _is_staged_binary(pid)]
    cell = frame.set_index("device").loc["phone"]
    assert (cell.status, cell.failure_kind) == ("failed", "timeout")
    assert "timed out after 2 s: /data/local/tmp/farm/bin/" in cell.reason
    assert left == []  # the phone's shell killed it


def _is_staged_binary(pid: int) -> bool:
    """Whether the process runs a benchmark_model staged on a phone (the phones' shells are
    this test's children)."""
    try:
        return "/farm/bin/" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def test_a_native_cell_on_this_host_reports_the_tools_footprint_not_the_farms(
    tmp_path: Path,
) -> None:
    """benchmark_model's peak footprint is its process's ru_maxrss, which Linux keeps across
    execve: started straight from a big process, the tool would report that process's peak."""
    big = np.ones(300 * 2**20, dtype=np.uint8)  # the farm's process: 300 MB more resident
    native = {"transport": "local", "runner": "benchmark_model"}
    native |= {"benchmark_model": real_benchmark_model(), "delegates": ["cpu"], "threads": [1]}
    devices = {"native": native | {"workdir": tmp_path / "work"}} | HOST
    frame = run_lab(tmp_path, devices, "kws_dscnn_int8", runs=3, retries=0)
    cell = frame.set_index("device").loc["native"]
    assert cell.status == "ok" and 1 < cell.peak_rss_mb < 100 < big.size / 2**20
