"""Local cells timed by pytest-benchmark in the pytest process: ``--farm-benchmark-local`` items
and the ``farm_interpreter`` fixture, with real LiteRT on the shipped kws model. pytest runs in
a fresh process (pytester's subprocess runs) where a test needs the plugin loaded as a user has
it; the interpreters themselves are also built here, in this process, to look inside them."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from farm.pytest_plugin import InterpreterFactory
from farm.pytest_plugin.in_process import why_not_in_process
from farm.spec import Cell, Device, DeviceOptions, Model

from .lab import KWS, MODELS, write_devices, write_manifest
from .test_pytest_plugin import FAST, junit_outcomes, plugin_args

pytest_plugins = ["pytester"]

CELLS = {f"host-{KWS}-cpu-t1", f"host-{KWS}-xnnpack-t1"}


def run_local(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        *plugin_args(), "--farm-devices", "devices.yaml", "--farm-models", "models", *FAST,
        "--farm-benchmark-local", *args,
    )  # fmt: skip


def benchmark_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cli = Path(sys.executable).parent / "pytest-benchmark"
    return subprocess.run(
        [str(cli), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_local_cells_are_pytest_benchmark_tests_that_compare_reads(
    pytester: pytest.Pytester, plugin_lab: Path
) -> None:
    base = run_local(pytester, "--benchmark-autosave", "--benchmark-storage", "file://./bench")
    base.assert_outcomes(passed=2)
    new = run_local(pytester, "--benchmark-json", "new.json")
    new.assert_outcomes(passed=2)

    benchmarks = {
        b["name"]: b for b in json.loads((plugin_lab / "new.json").read_text())["benchmarks"]
    }
    assert set(benchmarks) == CELLS
    for name, entry in benchmarks.items():
        assert entry["fullname"] == f"devices.yaml::{name}" and entry["group"] == KWS
        assert entry["params"]["delegate"] in name and entry["params"]["device"] == "host"
        stats = entry["stats"]
        assert stats["min"] > 0 and stats["median"] > 0
        assert stats["rounds"] == 5 and stats["iterations"] == 1  # --farm-runs 5, one invoke
        assert entry["extra_info"]["runtime"] == "ai_edge_litert"
    assert benchmarks[f"host-{KWS}-xnnpack-t1"]["extra_info"]["nodes_delegated"] > 0
    assert benchmarks[f"host-{KWS}-cpu-t1"]["extra_info"]["nodes_delegated"] == 0
    # The farm ran nothing: the cells were timed in pytest, not by the runner.
    new.stdout.no_fnmatch_line("*- tflite-farm -*")
    assert not (plugin_lab / "reports").exists()

    compare = benchmark_cli(
        plugin_lab, "--storage", "file://./bench", "compare", "0001", "new.json"
    )
    assert compare.returncode == 0, compare.stderr
    assert f"benchmark '{KWS}': 4 tests" in compare.stdout
    for name in CELLS:
        assert f"{name} (new)" in compare.stdout and f"{name} (Linux-" in compare.stdout


def test_local_cells_keep_budgets_plan_skips_and_junit_properties_and_leave_the_farm_run(
    pytester: pytest.Pytester, plugin_lab: Path
) -> None:
    host = {"transport": "local", "delegates": ["xnnpack"], "workdir": plugin_lab / "work"}
    write_devices(plugin_lab / "devices.yaml", {"host": host})  # the cpu cell is skipped at plan
    write_manifest(plugin_lab / "models", {KWS: {"xnnpack": 0.000001}})
    pytester.makepyfile(
        test_rows="""
        def test_in_process_cells_leave_no_farm_row(farm_result):
            assert dict(farm_result) == {}
        """
    )

    result = run_local(pytester, "--farm-delegates", "cpu,xnnpack", "--junitxml", "farm.xml", "-rs")

    result.assert_outcomes(passed=1, failed=1, skipped=1)
    outcomes = junit_outcomes(plugin_lab / "farm.xml")
    assert outcomes["test_in_process_cells_leave_no_farm_row"][0] == "passed"
    result.stdout.fnmatch_lines(
        ["SKIPPED [[]1[]] devices.yaml:2: host does not list delegate cpu*"]
    )
    verdict, message = outcomes[f"host-{KWS}-xnnpack-t1"]
    assert verdict == "failure" and "over budget: median" in message and "q1–q3" in message
    assert f"exceeds budget_ms 1e-06 ms ({KWS}: xnnpack)" in message
    properties = junit_properties(plugin_lab / "farm.xml", f"host-{KWS}-xnnpack-t1")
    assert properties["runtime"] == "ai_edge_litert"
    assert float(properties["latency_median_ms"]) > 0


def junit_properties(junit: Path, case: str) -> dict[str, str]:
    for testcase in ET.parse(junit).getroot().iter("testcase"):
        if testcase.get("name") == case:
            return {p.get("name", ""): p.get("value", "") for p in testcase.iter("property")}
    return {}


def test_users_time_their_own_interpreters_with_farm_interpreter(
    pytester: pytest.Pytester, plugin_lab: Path
) -> None:
    pytester.makepyfile(
        test_kws=f"""
        def test_kws_cpu(benchmark, farm_interpreter):
            it = farm_interpreter("{KWS}", delegate="cpu")
            assert "DELEGATE" not in [op["op_name"] for op in it._get_ops_details()]
            benchmark(it.invoke)

        def test_kws_by_path(benchmark, farm_interpreter):
            it = farm_interpreter("models/{KWS}.tflite")  # xnnpack, the default
            assert "DELEGATE" in [op["op_name"] for op in it._get_ops_details()]
            benchmark.pedantic(it.invoke, rounds=3)

        def test_gpu(farm_interpreter):
            farm_interpreter("{KWS}", delegate="gpu")

        def test_unknown(farm_interpreter):
            farm_interpreter("nope")
        """
    )
    # No --farm-devices: the fixture does not need the farm switched on.
    result = pytester.runpytest_subprocess(
        *plugin_args(), "--farm-models", "models", "--benchmark-json", "user.json", "-rs",
        "--benchmark-max-time", "0.05",
    )  # fmt: skip

    result.assert_outcomes(passed=2, skipped=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            f"farm_interpreter: no model 'nope' in *models (it has {KWS})",
            "SKIPPED [[]1[]] test_kws.py:12: delegate 'gpu' is not timed in the pytest process*",
        ]
    )
    document = json.loads((plugin_lab / "user.json").read_text())
    stats = {b["name"]: b["stats"] for b in document["benchmarks"]}
    assert set(stats) == {"test_kws_cpu", "test_kws_by_path"}
    assert all(s["median"] > 0 for s in stats.values())


def test_without_pytest_benchmark_the_option_is_a_usage_error_and_the_fixture_works(
    pytester: pytest.Pytester, plugin_lab: Path
) -> None:
    pytester.makepyfile(
        test_invoke=f"""
        def test_invoke(farm_interpreter):
            farm_interpreter("{KWS}", delegate="cpu", threads=2).invoke()
        """
    )
    refused = run_local(pytester, "-p", "no:benchmark")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(["ERROR: farm: --farm-benchmark-local times cells with*"])

    plain = pytester.runpytest_subprocess(*plugin_args(), "-p", "no:benchmark", "test_invoke.py")
    plain.assert_outcomes(passed=1)


def test_cpu_and_xnnpack_interpreters_are_built_as_the_runner_builds_them() -> None:
    make = InterpreterFactory(MODELS)
    cpu, xnnpack = make(KWS, delegate="cpu"), make(KWS, delegate="xnnpack")

    cpu_ops = [op["op_name"] for op in cpu._get_ops_details()]
    xnnpack_ops = [op["op_name"] for op in xnnpack._get_ops_details()]
    # Builtin kernels only (no default delegates) for cpu; XNNPACK takes a partition otherwise.
    assert "DELEGATE" not in cpu_ops
    assert xnnpack_ops.count("DELEGATE") >= 1
    assert [op for op in xnnpack_ops if op != "DELEGATE"] == cpu_ops
    # Same seeded inputs for both (the runner's), different for another seed.
    detail = cpu.get_input_details()[0]
    same = xnnpack.get_tensor(xnnpack.get_input_details()[0]["index"])
    assert (cpu.get_tensor(detail["index"]) == same).all()
    other = make(KWS, delegate="cpu", seed=1)
    assert (other.get_tensor(detail["index"]) != same).any()
    # Both compute the same model: int8 outputs at most a rounding step or two apart.
    cpu.invoke()
    xnnpack.invoke()
    out = cpu.get_output_details()[0]["index"]
    cpu_out, xnnpack_out = cpu.get_tensor(out).astype(int), xnnpack.get_tensor(out).astype(int)
    assert abs(cpu_out - xnnpack_out).max() <= 2


@pytest.mark.parametrize(
    ("transport", "delegate", "options", "runner", "reason"),
    [
        ("local", "cpu", {}, "python", None),
        ("local", "xnnpack", {"threads": [1, 2]}, "python", None),
        ("adb", "cpu", {}, "python", "pixel is not this host (transport adb)"),
        ("local", "external", {}, "python", "delegate external needs its own process"),
        (
            "local",
            "cpu",
            {"cpu_mask": "f0"},
            "python",
            "pixel sets cpu_mask for the runner's process",
        ),
        ("local", "cpu", {}, "benchmark_model", "pixel runs cells with benchmark_model"),
    ],
)
def test_which_cells_stay_with_the_farms_runner(
    transport: str, delegate: str, options: dict[str, object], runner: str, reason: str | None
) -> None:
    device = Device(
        "pixel", transport, (delegate,), runner=runner, options=DeviceOptions(**options)
    )
    cell = Cell(device, Model("m", "m.tflite", "0" * 64, 1), delegate, 1)

    assert why_not_in_process(cell) == reason
