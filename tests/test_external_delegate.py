"""External delegates through the farm: a delegate compiled from tests/delegates/ is pushed,
loaded by the runner through the TFLite plugin ABI, and its coverage and parity recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from farm.parity import DEGRADED, NON_FINITE, ZERO_OUTPUT

from .lab import model_folder_with, one_op_model, run_lab

pytest_plugins = ["tests.delegates.fixtures"]
pytestmark = pytest.mark.lab


def run_with_delegate(
    tmp_path: Path, library: Path, options: dict[str, str], models: Path | None = None
) -> pd.DataFrame:
    external = {"path": library, "options": options}
    host = {"transport": "local", "delegates": ["cpu", "external"], "external_delegate": external}
    devices = {"host": host | {"workdir": tmp_path / "work"}}
    models = models or model_folder_with(tmp_path, "mobilenet_v2_fp32")
    return run_lab(tmp_path, devices, models, seed=2).set_index("delegate")


def test_a_partial_delegate_reports_exact_coverage_and_fallback_ops(
    tmp_path: Path, test_delegate_so: Path
) -> None:
    frame = run_with_delegate(tmp_path, test_delegate_so, {"op": "ADD", "mode": "exact"})
    row = frame.loc["external"]
    assert row.status == "ok"
    assert (row.nodes_delegated, row.nodes_total, row.partitions) == (10, 65, 10)
    assert not row.fully_delegated
    assert json.loads(row.cpu_fallback_ops) == {
        "CONV_2D": 35,
        "DEPTHWISE_CONV_2D": 17,
        "FULLY_CONNECTED": 1,
        "MEAN": 1,
        "SOFTMAX": 1,
    }
    assert row.parity_ok and row.parity_cosine == pytest.approx(1.0)
    assert row.parity_reference == "host-mobilenet_v2_fp32-cpu-t1"
    staged = list((tmp_path / "work" / "delegates").glob("*.so"))
    assert len(staged) == 1


def test_a_delegate_that_corrupts_outputs_is_caught_by_parity_and_still_timed(
    tmp_path: Path, test_delegate_so: Path
) -> None:
    frame = run_with_delegate(tmp_path, test_delegate_so, {"op": "ADD", "mode": "corrupt"})
    row = frame.loc["external"]
    assert (row.status, row.failure_kind) == ("failed", "parity")
    assert row.reason.startswith("outputs differ from host-mobilenet_v2_fp32-cpu-t1: output_0:")
    assert row.parity_cosine < 0.99 and not row.parity_ok
    assert row.latency_median_ms > 0 and len(row.samples_ms) >= 5


@pytest.mark.parametrize(
    ("mode", "parity_class", "words"),
    [
        (
            "nan",
            NON_FINITE,
            "output_0 has 1 NaN and 0 Inf of 8 values where the reference has none",
        ),
        ("zeros", ZERO_OUTPUT, "output_0 is all 0;"),
        ("constant", ZERO_OUTPUT, "output_0 is all 0.5;"),
        ("scale", DEGRADED, "rms error 0.05 of the reference's rms > 0.001"),
        ("shift", DEGRADED, "rms error 0.003 of the reference's rms > 0.001"),
        ("permute", DEGRADED, "cosine"),
    ],
)
def test_each_way_a_delegate_spoils_its_outputs_fails_the_cell_with_its_class(
    tmp_path: Path, test_delegate_so: Path, mode: str, parity_class: str, words: str
) -> None:
    """A model whose only op (x + x) the delegate computes: its outputs are the model's,
    spoiled the way broken kernels spoil them; parity names each with the right class."""
    models = one_op_model(tmp_path / "models" / "x_plus_x.tflite", "ADD", arity=2).parent
    frame = run_with_delegate(tmp_path, test_delegate_so, {"op": "ADD", "mode": mode}, models)
    row = frame.loc["external"]
    assert (row.nodes_delegated, row.nodes_total) == (1, 1)
    assert (row.status, row.failure_kind, row.parity_class) == ("failed", "parity", parity_class)
    assert row.parity_ok is not None and not row.parity_ok
    assert words in row.reason
    assert frame.loc["cpu"].status == "ok"


def test_a_library_without_the_plugin_entry_points_fails_the_cell_clearly(
    tmp_path: Path, no_entry_points_so: Path
) -> None:
    frame = run_with_delegate(tmp_path, no_entry_points_so, {})
    row = frame.loc["external"]
    assert (row.status, row.failure_kind) == ("failed", "delegate")
    assert "tflite_plugin_create_delegate" in row.reason
    assert frame.loc["cpu"].status == "ok"
