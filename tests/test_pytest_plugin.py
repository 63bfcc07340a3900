"""The pytest plugin through pytester: real farm runs on this host (LiteRT, the shipped kws
model), the items and outcomes a user sees, JUnit XML, fixtures, and pytest-benchmark's CLI
reading the exported JSON.

Results are read from the run's journal, not results.parquet: pytester drops modules first
imported during a test from sys.modules afterwards, and numpy cannot be imported twice."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from farm.pytest_plugin import budget_for
from farm.pytest_plugin.benchmark_json import benchmark_stats
from farm.pytest_plugin.items import check_cell
from farm.spec import Cell, CellResult, Device, Model
from farm.store import read_journal

from .lab import KWS, write_manifest

pytest_plugins = ["pytester"]

FAST = ["--farm-runs", "5", "--farm-warmup", "1"]


def plugin_args() -> list[str]:
    """``-p farm.pytest_plugin`` until the pytest11 entry point is installed; after that pytest
    loads it by itself (and loading it twice would be an error)."""
    installed = any(ep.value == "farm.pytest_plugin" for ep in entry_points(group="pytest11"))
    return [] if installed else ["-p", "farm.pytest_plugin"]


def run_farm(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """pytest in a fresh process, as a user runs it (LiteRT cannot be imported twice into one
    process, which pytester's in-process runs would need)."""
    return pytester.runpytest_subprocess(
        *plugin_args(), "--farm-devices", "devices.yaml", "--farm-models", "models", *FAST, *args
    )


def junit_outcomes(path: Path) -> dict[str, tuple[str, str]]:
    """testcase name → (passed | failure | skipped | error, message)."""
    outcomes = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        verdict = next(iter(case.findall("failure") + case.findall("skipped")), None)
        outcome = "passed" if verdict is None else verdict.tag
        message = "" if verdict is None else verdict.get("message", "")
        outcomes[case.get("name", "")] = (outcome, message)
    return outcomes


def test_each_cell_is_an_item_with_its_outcome_and_a_junit_testcase(
    pytester: pytest.Pytester, plugin_lab: Path
) -> None:
    models = plugin_lab / "models"
    (models / "broken.tflite").write_bytes(b"\x00garbage" * 50)
    # One generous budget (cpu), one impossible (xnnpack): the most specific key wins.
    write_manifest(models, {KWS: {"default": 10_000.0, "xnnpack": 0.000001}})

    result = run_farm(
        pytester, "--farm-delegates", "cpu,xnnpack,gpu", "--junitxml", "farm.xml", "-rA"
    )

    result.assert_outcomes(passed=1, failed=3, skipped=2)
    result.stdout.fnmatch_lines(["*collected 6 items*", "farm: 6 cells (2 skipped at plan)*"])
    outcomes = junit_outcomes(plugin_lab / "farm.xml")
    assert {name: outcome for name, (outcome, _) in outcomes.items()} == {
        f"host-{KWS}-cpu-t1": "passed",
        f"host-{KWS}-xnnpack-t1": "failure",
        f"host-{KWS}-gpu-t1": "skipped",
        "host-broken-cpu-t1": "failure",
        "host-broken-xnnpack-t1": "failure",
        "host-broken-gpu-t1": "skipped",
    }
    over_budget = outcomes[f"host-{KWS}-xnnpack-t1"][1]
    assert "over budget: median" in over_budget and "p5–p95" in over_budget
    assert f"exceeds budget_ms 1e-06 ms ({KWS}: xnnpack)" in over_budget
    assert "cell failed (model): " in outcomes["host-broken-cpu-t1"][1]
    assert outcomes[f"host-{KWS}-gpu-t1"][1] == "host does not list delegate gpu in devices.yaml"
    result.stdout.fnmatch_lines(
        ["SKIPPED [[]2[]] devices.yaml:2: host does not list delegate gpu*"]
    )
    classnames = {
        case.get("classname") for case in ET.parse(plugin_lab / "farm.xml").iter("testcase")
    }
    assert classnames == {"devices.yaml"}


def test_the_matrix_runs_once_and_only_the_selected_cells(
    pytester: pytest.Pytester, plugin_lab: Path
) -> None:
    result = run_farm(pytester, "--farm-run-dir", "run", "-k", "cpu")

    result.assert_outcomes(passed=1, deselected=1)
    rows = read_journal(plugin_lab / "run" / "journal.jsonl")
    assert [(row.delegate, row.status) for row in rows] == [("cpu", "ok")]
    assert (plugin_lab / "run" / "dashboard.html").exists()
    result.stdout.fnmatch_lines(["*tflite-farm*", "run *: 1 ok, 0 failed, 0 skipped"])


def test_users_write_their_own_checks_with_farm_lab_and_farm_result(
    pytester: pytest.Pytester, plugin_lab: Path
) -> None:
    pytester.makepyfile(
        test_speed=f"""
        def test_xnnpack_is_faster(farm_lab, farm_result):
            assert set(farm_lab.cells) == {{"host-{KWS}-cpu-t1", "host-{KWS}-xnnpack-t1"}}
            assert [d.name for d in farm_lab.devices] == ["host"]
            cpu = farm_result("host", "{KWS}", "cpu")
            xnnpack = farm_result["host-{KWS}-xnnpack-t1"]
            assert xnnpack.latency_median_ms < cpu.latency_median_ms
            assert len(farm_result.frame) == 2
        """
    )
    # Only the user's test is selected: the fixture still runs the whole matrix for it.
    result = run_farm(pytester, "test_speed.py", "-k", "faster")

    result.assert_outcomes(passed=1, deselected=2)


def test_without_farm_devices_the_plugin_adds_nothing(
    pytester: pytest.Pytester, plugin_lab: Path
) -> None:
    pytester.makepyfile(
        test_plain="""
        def test_plain():
            assert True

        def test_needs_the_farm(farm_result):
            raise AssertionError("never runs")
        """
    )
    result = pytester.runpytest_subprocess(*plugin_args(), "-rs")

    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*the farm fixtures need --farm-devices*"])
    result.stdout.no_fnmatch_line("*devices.yaml::*")
    assert not (plugin_lab / "reports").exists()


def test_a_bad_devices_file_is_a_usage_error_not_a_traceback(
    pytester: pytest.Pytester, plugin_lab: Path
) -> None:
    (plugin_lab / "devices.yaml").write_text(
        "devices:\n  host:\n    transport: local\n    delegats: [cpu]\n"
    )
    result = run_farm(pytester)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: farm: devices.yaml: devices.host.delegats: unknown key*"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    bad_threads = run_farm(pytester, "--farm-threads", "one")
    assert bad_threads.ret == pytest.ExitCode.USAGE_ERROR
    bad_threads.stderr.fnmatch_lines(["ERROR: farm: --farm-threads: cannot read 'one'*"])
    no_runs = run_farm(pytester, "--farm-runs", "0")
    no_runs.stderr.fnmatch_lines(["ERROR: farm: --farm-runs: must be at least 1, not 0"])


def test_a_misspelt_delegate_or_zero_threads_names_the_plugins_option(
    pytester: pytest.Pytester, plugin_lab: Path
) -> None:
    typo = run_farm(pytester, "--farm-delegates", "cpu,xnnpak")
    assert typo.ret == pytest.ExitCode.USAGE_ERROR
    typo.stderr.fnmatch_lines(
        ["ERROR: farm: --farm-delegates: unknown delegate 'xnnpak' (did you mean 'xnnpack'?)"]
    )
    zero = run_farm(pytester, "--farm-threads", "0")
    zero.stderr.fnmatch_lines(["ERROR: farm: --farm-threads: 0 threads cannot run a cell*"])
    assert not (plugin_lab / "reports").exists()  # refused before a run folder was made


def test_pytest_benchmark_compare_reads_the_exported_json(
    pytester: pytest.Pytester, plugin_lab: Path
) -> None:
    run_farm(pytester, "--farm-benchmark-json", "base.json").assert_outcomes(passed=2)
    new = run_farm(pytester, "--farm-benchmark-json", "new-{device}.json", "--farm-run-dir", "r")
    new.assert_outcomes(passed=2)

    document = json.loads((plugin_lab / "new-host.json").read_text())
    assert document["machine_info"]["node"] == "host"
    assert document["machine_info"]["transport"] == "local"  # the device's fingerprint
    by_name = {b["name"]: b for b in document["benchmarks"]}
    assert set(by_name) == {f"host-{KWS}-cpu-t1", f"host-{KWS}-xnnpack-t1"}
    rows = {row.cell_id: row for row in read_journal(plugin_lab / "r" / "journal.jsonl")}
    cpu = by_name[f"host-{KWS}-cpu-t1"]
    assert cpu["fullname"] == cpu["name"] and cpu["stats"]["iterations"] == 1
    samples_ms = rows[cpu["name"]].samples_ms
    assert cpu["stats"]["data"] == pytest.approx([ms / 1000 for ms in samples_ms])
    assert cpu["stats"]["rounds"] == len(samples_ms) >= 5

    cli = Path(sys.executable).parent / "pytest-benchmark"
    compare = subprocess.run(
        [str(cli), "compare", "base.json", "new-host.json"],
        cwd=plugin_lab,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert compare.returncode == 0, compare.stderr
    assert f"benchmark '{KWS}': 4 tests" in compare.stdout
    for name in by_name:
        assert f"{name} (base)" in compare.stdout and f"{name} (new-host)" in compare.stdout


@pytest.mark.parametrize("rounds", [1, 2, 3, 4, 5, 6, 7, 8, 9, 50])
def test_benchmark_stats_match_pytest_benchmarks_own(rounds: int) -> None:
    from pytest_benchmark import stats as stats_module  # the test extra's own statistics

    samples = [0.001 * (1 + (i * 7919 % 13) / 10) for i in range(rounds)]
    theirs = stats_module.Stats()
    for sample in samples:
        theirs.update(sample)

    ours = benchmark_stats(samples)

    assert {k: ours[k] for k in theirs.fields} == pytest.approx(theirs.as_dict())
    assert ours["data"] == samples and ours["iterations"] == 1


@pytest.mark.parametrize(
    ("budget", "device", "delegate", "expected"),
    [
        (None, "pixel8", "gpu", None),
        (5, "pixel8", "gpu", 5.0),
        ({"default": 9}, "pixel8", "gpu", 9.0),
        ({"default": 9, "gpu": 4}, "pixel8", "gpu", 4.0),
        ({"default": 9, "gpu": 4, "pixel8": 6}, "pixel8", "gpu", 6.0),
        ({"default": 9, "gpu": 4, "pixel8": 6, "pixel8/gpu": 2}, "pixel8", "gpu", 2.0),
        ({"pixel8/gpu": 2, "gpu": 4}, "pixel8", "cpu", None),
        ({"pixel8/gpu": 2, "gpu": 4}, "coral", "gpu", 4.0),
    ],
)
def test_budget_for_takes_the_most_specific_key(
    budget: object, device: str, delegate: str, expected: float | None
) -> None:
    assert budget_for(budget, device, delegate) == expected  # type: ignore[arg-type]


def test_a_parity_failure_fails_the_cell_as_parity() -> None:
    model = Model("m", "m.tflite", "0" * 64, 1)
    cell = Cell(Device("host", "local", ("cpu", "xnnpack")), model, "xnnpack", 1)
    row = CellResult(
        "run", "host", "m", "xnnpack", 1, "failed", "0" * 64, failure_kind="parity",
        reason="outputs differ from host-m-cpu-t1: cosine 0.2 < 0.99",
    )  # fmt: skip

    with pytest.raises(pytest.fail.Exception, match=r"cell failed \(parity\): outputs differ"):
        check_cell(row, cell)


def test_importing_the_plugin_stays_light() -> None:
    heavy = ("pandas", "plotly", "numpy", "pyarrow", "ai_edge_litert", "farm.job")
    code = (
        f"import sys, farm.pytest_plugin\nprint(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == ""
