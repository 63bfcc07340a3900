"""Cells with `runner: benchmark_model`: staging the user's binary, running it, parsing it.

No benchmark_model build runs on this host, so the "binary" here is a script that prints an
output captured on a real device (tests/data/benchmark_model_logs); what is under test is the
farm's side: push once by sha256, chmod, argv, parsing into the results schema, and failures.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from farm.cli import app

from .lab import DATA, Devices, model_folder_with, run_lab

LOGS = DATA / "benchmark_model_logs"


def fake_build(tmp_path: Path, log: str) -> Path:
    """A stand-in binary that records its argv and prints a real device's output."""
    binary = tmp_path / "benchmark_model"
    argv_file = tmp_path / "argv.txt"
    binary.write_text(
        f'#!/bin/sh\necho "$@" > {shlex.quote(str(argv_file))}\n'
        f"cat {shlex.quote(str(LOGS / log))}\n"
    )
    binary.chmod(0o755)
    return binary


def native_lab(tmp_path: Path, binary: str, delegates: tuple[str, ...] = ("cpu",)) -> Devices:
    board = {"transport": "local", "runner": "benchmark_model", "benchmark_model": binary}
    return {"board": board | {"delegates": delegates, "workdir": tmp_path / "work"}}


def stub_models(tmp_path: Path) -> Path:
    models = tmp_path / "models"
    models.mkdir(exist_ok=True)
    (models / "m.tflite").write_bytes(b"model bytes: benchmark_model reads this, not the farm")
    return models


def test_a_native_cell_is_stored_in_the_common_schema(tmp_path: Path) -> None:
    binary = fake_build(tmp_path, "06_ti-am62x-tflite2.20-xnnpack-percentiles.txt")
    devices = native_lab(tmp_path, str(binary))
    row = run_lab(tmp_path, devices, stub_models(tmp_path), runs=7, warmup=2).iloc[0]
    assert row.status == "ok" and row.runtime == "benchmark_model"
    assert row.latency_mean_ms == pytest.approx(899.641)
    assert row.latency_median_ms == pytest.approx(899.281)
    assert row.init_ms == pytest.approx(614.333)
    assert len(row.samples_ms) == 0  # the tool prints statistics, not samples
    assert row.latency_count == 50  # ... and how many runs they stand for
    argv = (tmp_path / "argv.txt").read_text().split()
    assert "--use_xnnpack=false" in argv and "--num_runs=7" in argv and "--warmup_runs=2" in argv
    staged = list((tmp_path / "work" / "bin").iterdir())
    assert len(staged) == 1 and staged[0].stat().st_mode & 0o111
    assert (tmp_path / "run" / "raw" / "board-m-cpu-t1.log").exists()


def test_a_delegate_failure_in_the_log_fails_the_cell_as_delegate(tmp_path: Path) -> None:
    binary = fake_build(tmp_path, "10_lp6m-mi11-tf2.4-nnapi-qti-default-failure.txt")
    devices = native_lab(tmp_path, str(binary), ("nnapi",))
    row = run_lab(tmp_path, devices, stub_models(tmp_path), runs=7, warmup=2).iloc[0]
    assert (row.status, row.failure_kind) == ("failed", "delegate")
    assert "ANEURALNETWORKS_OP_FAILED" in row.reason


def test_a_missing_binary_fails_each_cell_with_the_key_to_fix(tmp_path: Path) -> None:
    devices = native_lab(tmp_path, str(tmp_path / "nope"))
    frame = run_lab(tmp_path, devices, stub_models(tmp_path), runs=7, warmup=2)
    assert set(frame.failure_kind) == {"infra"}
    assert frame.reason.str.contains("devices.board.benchmark_model").all()


def test_a_binary_the_device_cannot_execute_fails_before_it_is_pushed(tmp_path: Path) -> None:
    binary = tmp_path / "benchmark_model"
    binary.write_bytes(b"\x7fELF\x02\x01\x01" + b"\x00" * 64)  # an ELF for no machine
    devices = native_lab(tmp_path, str(binary))
    row = run_lab(tmp_path, devices, stub_models(tmp_path), runs=7, warmup=2).iloc[0]
    assert row.status == "failed" and row.failure_kind == "infra"
    assert row.reason.startswith(f"pre-flight: benchmark_model {binary} is built for ELF machine 0")
    assert not (tmp_path / "work" / "bin").exists()


def test_parse_log_prints_the_contract_json() -> None:
    result = CliRunner().invoke(
        app, ["parse-log", str(LOGS / "04_ti-am57x-tflite1.12-cpu-legacy-format.txt")]
    )
    data = json.loads(result.output)
    assert result.exit_code == 0 and data["format"] == "legacy" and data["status"] == "ok"


def test_parse_log_of_garbage_is_incomplete_and_of_nothing_exits_2(tmp_path: Path) -> None:
    garbage = CliRunner().invoke(app, ["parse-log", "-"], input="no benchmark here\n\x00\x01")
    assert garbage.exit_code == 0 and json.loads(garbage.output)["status"] == "incomplete"
    missing = CliRunner().invoke(app, ["parse-log", str(tmp_path / "absent.log")])
    assert missing.exit_code == 2 and "cannot read" in missing.output


def test_a_tool_that_writes_no_output_file_is_timed_and_says_its_outputs_were_not_checked(
    tmp_path: Path,
) -> None:
    """A build too old for --output_filepath only warns about the flag: no outputs, no parity."""
    binary = fake_build(tmp_path, "06_ti-am62x-tflite2.20-xnnpack-percentiles.txt")
    models = model_folder_with(tmp_path, "kws_dscnn_int8", name="kws")
    devices = native_lab(tmp_path, str(binary))
    row = run_lab(tmp_path, devices, models, runs=7, warmup=2).iloc[0]
    assert row.status == "ok" and row.latency_count == 50
    assert row.reason.startswith("outputs not checked: benchmark_model wrote no --output_filepath")
    assert pd.isna(row.parity_ok)
    argv = (tmp_path / "argv.txt").read_text().split()
    assert "--input_layer=serving_default_mfcc:0" in argv  # the farm did ask for them


def test_a_missing_benchmark_model_says_where_to_put_it_and_the_python_way(
    tmp_path: Path,
) -> None:
    from farm.errors import RunnerError
    from farm.runners.benchmark_model.provision import find_benchmark_model

    with pytest.raises(RunnerError) as missing:
        find_benchmark_model("sim0", None, "x86_64", cache=tmp_path / "cache")
    message = str(missing.value)
    assert f"looked for {tmp_path / 'cache' / 'x86_64' / 'benchmark_model'}; " in message
    assert "put an x86_64 build there" in message  # one place: "there", not "in one of them"
    assert "`farm sim up --profile linux-python` run the Python runner" in message
