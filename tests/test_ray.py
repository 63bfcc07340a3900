"""The Ray executor on a real local Ray cluster (ray.cluster_utils): a head node advertising
this host, and one node per virtual Android phone advertising that phone, as lab hosts would
after `farm lab join`. Run by `tox -e ray` (marker ``ray``).

Phone cells are device-bound: the phones run a stand-in benchmark_model that waits, then
prints a real device's output, and say shares_host_cpu: false, as phones on USB would. The
host's cells are real LiteRT measurements.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import ray
from ray.cluster_utils import Cluster

from farm.cluster.resources import NAMESPACE, host_resources
from farm.config import load_devices
from farm.sim.adb_server import AdbServer
from farm.sim.device import VirtualDevice

from .lab import (
    DATA,
    Devices,
    farm,
    free_port,
    model_folder_with,
    phone_entry,
    phones_behind_adb,
    run_lab,
    wait_for,
    write_devices,
)

pytestmark = pytest.mark.ray
CELL_S = 0.6
LOG = DATA / "benchmark_model_logs" / "06_ti-am62x-tflite2.20-xnnpack-percentiles.txt"
HOST = {"transport": "local", "delegates": ["cpu", "xnnpack"], "threads": [1]}


@dataclass
class RayLab:
    """The cluster, the adb server, the phones, and a folder for this module's files."""

    cluster: Any
    server: AdbServer
    phones: list[VirtualDevice]
    root: Path

    def phone(self, name: str, phone: VirtualDevice, binary: Path) -> Devices:
        entry = phone_entry(
            phone.serial,
            self.server.port,
            runner="benchmark_model",
            benchmark_model=binary,
            shares_host_cpu=False,
            delegates=["cpu", "xnnpack"],
            threads=[1, 2],
        )
        return {name: entry}

    def stand_in(self, name: str, script: str = "") -> Path:
        """A benchmark_model that waits CELL_S (after ``script``), then prints a real log."""
        binary = self.root / name
        body = f"{script}\nsleep {CELL_S}\ncat {shlex.quote(str(LOG))}\n"
        binary.write_text("#!/bin/sh\n" + body)
        return binary

    def devices(self, name: str, *labs: Devices) -> Path:
        devices = {device: entry for lab in labs for device, entry in lab.items()}
        return write_devices(self.root / f"{name}.yaml", devices)

    def add_node(self, devices: Path) -> Any:
        """A lab host joining with the devices in ``devices`` (what `farm lab join` sets)."""
        node = self.cluster.add_node(num_cpus=1, resources=host_resources(load_devices(devices)))
        self.cluster.wait_for_nodes()
        return node


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayLab]:
    root = tmp_path_factory.mktemp("ray-lab")
    head = host_resources(load_devices(write_devices(root / "host.yaml", {"host": HOST})))
    # Unconfined: the stand-in benchmark_model scripts read a log from this host's tests/data
    # (the phones' confinement has tests of its own in tests/sim).
    with phones_behind_adb(root, "pixel8", 3, confined=False) as (server, phones):
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "resources": head})
        lab = RayLab(cluster, server, phones, root)
        try:
            binary = lab.stand_in("benchmark_model")
            for i in range(2):
                node = lab.devices(f"node{i}", lab.phone(f"phone{i}", phones[i], binary))
                lab.add_node(node)
            ray.init(address=cluster.address, namespace=NAMESPACE, log_to_driver=False)
            yield lab
        finally:
            ray.shutdown()
            cluster.shutdown()


def phones_lab(lab: RayLab, name: str, *more: Devices) -> Path:
    binary = lab.stand_in("benchmark_model")
    phones = [lab.phone(f"phone{i}", lab.phones[i], binary) for i in range(2)]
    return lab.devices(name, *phones, *more)


def stub_models(lab: RayLab, *contents: str) -> Path:
    """Models only the stand-in reads: any bytes, a new file name and sha per content."""
    folder = lab.root / ("models-" + "-".join(contents))
    folder.mkdir(exist_ok=True)
    for content in contents:
        (folder / f"{content}.tflite").write_bytes(content.encode())
    return folder


def run(devices: Path, models: Path, run_dir: Path, **kw: Any) -> pd.DataFrame:
    """run_lab on the cluster (the ray executor unless ``kw`` names another)."""
    settings = {"seed": 3, "executor": "ray", "run_dir": run_dir, **kw}
    return run_lab(run_dir.parent, devices, models, **settings)


def intervals(frame: pd.DataFrame) -> dict[str, list[tuple[float, float]]]:
    """Each device's cells as (start, end) seconds, from each row's start time and wall."""
    spans: dict[str, list[tuple[float, float]]] = {}
    for row in frame.itertuples():
        start = dt.datetime.fromisoformat(row.started_at).timestamp()
        spans.setdefault(row.device, []).append((start, start + row.wall_s))
    return {device: sorted(found) for device, found in spans.items()}


def overlapping(spans: list[tuple[float, float]]) -> list[tuple[Any, Any]]:
    ordered = sorted(spans)
    return [(a, b) for a, b in itertools.pairwise(ordered) if b[0] < a[1]]


def test_cells_of_one_device_never_overlap_while_devices_run_in_parallel(lab: RayLab) -> None:
    frame = run(phones_lab(lab, "parallel"), stub_models(lab, "m"), lab.root / "parallel")

    assert len(frame) == 8 and set(frame.status) == {"ok"}, frame[["device", "reason"]]
    spans = intervals(frame)
    assert all(not overlapping(spans[device]) for device in ("phone0", "phone1")), spans
    assert overlapping(spans["phone0"] + spans["phone1"]), spans  # the two phones at once
    assert set(frame.attempt) == {1}
    executor = json.loads((lab.root / "parallel" / "run.json").read_text())["executor"]
    assert executor["kind"] == "ray" and executor["ray_version"] == ray.__version__
    assert set(executor["lab_hosts"]) == {"phone0", "phone1"}


def test_two_drivers_at_once_never_overlap_on_a_device(lab: RayLab) -> None:
    devices, models = phones_lab(lab, "drivers"), stub_models(lab, "m")
    drivers = [
        subprocess.Popen(
            [
                *(sys.executable, "-c", "from farm.cli import main; main()", "run"),
                *("--devices", str(devices), "--models", str(models), "--runs", "5"),
                *("--executor", "ray", "--address", lab.cluster.address),
                *("--run-dir", str(lab.root / f"driver{i}")),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [driver.communicate(timeout=300)[0] for driver in drivers]
    assert [driver.returncode for driver in drivers] == [0, 0], outputs

    frames = [pd.read_parquet(lab.root / f"driver{i}" / "results.parquet") for i in range(2)]
    both = pd.concat(frames)
    assert len(both) == 16 and set(both.status) == {"ok"}
    spans = intervals(both)
    assert all(not overlapping(spans[device]) for device in ("phone0", "phone1")), spans


def test_an_injected_infra_failure_is_retried_and_succeeds(lab: RayLab) -> None:
    devices = lab.devices("retry", lab.phone("phone0", lab.phones[0], lab.stand_in("bm")))
    lab.phones[0].fail_next_push("injected: I/O error")  # the first new file pushed fails

    frame = run(devices, stub_models(lab, "fresh"), lab.root / "retry", delegates=["cpu"])

    assert set(frame.status) == {"ok"}, frame.reason.tolist()
    assert sorted(frame.attempt) == [1, 2]  # the first cell failed once, then succeeded
    journal = (lab.root / "retry" / "journal.jsonl").read_text().splitlines()
    attempts: dict[int, list[tuple[str, int]]] = {}  # threads -> the cell's rows, in order
    for row in map(json.loads, journal):
        attempts.setdefault(row["threads"], []).append((row["status"], row["attempt"]))
        assert row["status"] == "ok" or "cannot push" in row["reason"]
    assert sorted(attempts.values()) == [[("failed", 1), ("ok", 2)], [("ok", 1)]]


@dataclass
class SlowRun:
    """A run of a phone whose host may leave mid-cell: two cells of 2.6 s, in a thread."""

    devices: Path
    node: Any
    thread: threading.Thread
    frames: list[pd.DataFrame]

    def result(self) -> pd.DataFrame:
        self.thread.join(timeout=300)
        return self.frames[0]


def start_slow_run(lab: RayLab, name: str, sleep_s: float = 2) -> SlowRun:
    """Start the run on a phone behind its own lab host; return once its first cell runs."""
    started = lab.root / f"{name}-started"
    binary = lab.stand_in(f"slow-{name}", f"touch {started}\nsleep {sleep_s}")
    devices = lab.devices(name, lab.phone(name, lab.phones[2], binary))
    node = lab.add_node(devices)
    frames: list[pd.DataFrame] = []
    models, run_dir = stub_models(lab, name), lab.root / f"run-{name}"
    thread = threading.Thread(
        target=lambda: frames.append(run(devices, models, run_dir, threads=[1]))
    )
    thread.start()
    wait_for(started.exists, "the slow cell to start", timeout_s=60)
    return SlowRun(devices, node, thread, frames)


def test_a_lab_host_removed_mid_cell_loses_nothing(lab: RayLab) -> None:
    slow = start_slow_run(lab, "mover")
    lab.cluster.remove_node(slow.node)  # mid-cell: the phone's host leaves the cluster
    replacement = lab.add_node(slow.devices)  # and comes back (a restarted lab host)
    frame = slow.result()
    lab.cluster.remove_node(replacement)

    assert len(frame) == 2 and set(frame.status) == {"ok"}, frame.reason.tolist()
    assert max(frame.attempt) == 2  # the interrupted cell ran again on the new host


def test_a_driver_waiting_on_a_device_another_run_holds_says_so_with_progress_and_table(
    lab: RayLab,
) -> None:
    """Two drivers, one phone: the second waits longer than its cells may take, says so on
    the console, then runs; its console is the local run's (progress bar, summary table)."""
    held = start_slow_run(lab, "held", sleep_s=6)  # two cells of 6.6 s, holding the phone
    fast = lab.devices("held-fast", lab.phone("held", lab.phones[2], lab.stand_in("bm")))
    argv = ["run", "--devices", str(fast), "--models", str(stub_models(lab, "f")), "--runs", "5"]
    argv += ["--executor", "ray", "--address", lab.cluster.address, "--timeout", "2"]
    argv += ["--retries", "0", "--delegates", "cpu", "--threads", "1"]
    argv += ["--run-dir", str(lab.root / "held-second")]
    code, second = farm(*argv)
    first = held.result()
    lab.cluster.remove_node(held.node)

    assert code == 0, second
    assert "held: no cell ended in" in second and "longer than one cell may take" in second
    assert "run " in second and "1/1" in second  # the progress bar, done
    assert "median ms" in second and "p5–p95 ms" in second  # the summary table
    assert set(first.status) == {"ok"}


def test_a_device_whose_host_left_fails_its_cells_as_infra(lab: RayLab) -> None:
    slow = start_slow_run(lab, "leaver")
    lab.cluster.remove_node(slow.node)  # and no host advertises the phone any more
    frame = slow.result()

    assert set(frame.status) == {"failed"} and set(frame.failure_kind) == {"infra"}
    assert all("no host advertises device leaver" in reason for reason in frame.reason)


def test_a_device_no_host_advertises_fails_at_once(lab: RayLab) -> None:
    ghost = lab.phone("ghost", lab.phones[0], lab.stand_in("benchmark_model"))
    frame = run(lab.devices("ghost", ghost), stub_models(lab, "m"), lab.root / "ghost")

    assert set(frame.status) == {"failed"} and set(frame.failure_kind) == {"infra"}
    join = f"farm lab join --address {lab.cluster.address} --only ghost"
    assert set(frame.reason) == {f"no host advertises device ghost (run `{join}` on its host)"}
    assert frame.wall_s.isna().all()  # no cell started


def test_a_hand_started_host_without_the_host_cpu_unit_fails_in_seconds(lab: RayLab) -> None:
    """`ray start --resources '{"device:lonely": 1}'`: the device's unit, but not the host-CPU
    unit a local device's cells also hold. No node could ever take them: they fail at once."""
    node = lab.cluster.add_node(num_cpus=1, resources={"device:lonely": 1.0})
    lab.cluster.wait_for_nodes()
    lonely = {"lonely": {"transport": "local", "delegates": ["cpu"], "threads": [1]}}
    try:
        frame = run(lab.devices("lonely", lonely), stub_models(lab, "m"), lab.root / "lonely")
    finally:
        lab.cluster.remove_node(node)
    (reason,) = set(frame.reason)
    assert set(frame.failure_kind) == {"infra"} and frame.wall_s.isna().all()
    assert "lacks farm_host_cpu" in reason
    assert f"farm lab join --address {lab.cluster.address} --only lonely" in reason


def test_the_result_set_equals_the_local_executors(lab: RayLab) -> None:
    devices = phones_lab(lab, "same", {"host": HOST})
    models = model_folder_with(lab.root, "kws_dscnn_int8", folder="real-models")
    settings = {"order": "as-listed", "threads": [1]}

    local = run(devices, models, lab.root / "local", executor="local", **settings)
    on_ray = run(devices, models, lab.root / "on-ray", **settings)
    frames = (local, on_ray)

    columns = ["device", "model", "delegate", "threads", "status", "failure_kind", "parity_ok"]
    columns += ["nodes_delegated", "nodes_total", "partitions", "fully_delegated", "runtime"]
    columns += ["model_sha256", "device_fingerprint"]
    key = ["device", "model", "delegate", "threads"]
    assert_same = pd.testing.assert_frame_equal
    assert_same(_sorted(local, key)[columns], _sorted(on_ray, key)[columns])
    phone_latency = ["latency_median_ms", "latency_p95_ms", "init_ms"]  # parsed from one log
    local_phones, ray_phones = (_sorted(f[f.device.str.startswith("phone")], key) for f in frames)
    assert_same(local_phones[phone_latency], ray_phones[phone_latency])
    on_host = on_ray[on_ray.device == "host"]
    assert len(on_host) == 2 and on_host.parity_ok.all() and on_host.latency_median_ms.notna().all()
    for folder in ("outputs", "raw"):
        names = sorted(p.name for p in (lab.root / "local" / folder).iterdir())
        assert names == sorted(p.name for p in (lab.root / "on-ray" / folder).iterdir())


def test_an_unreachable_head_is_an_input_error_and_no_run_starts(lab: RayLab) -> None:
    run_dir = lab.root / "unreachable"
    argv = ["run", "-d", phones_lab(lab, "unreachable"), "--run-dir", run_dir]
    address = f"127.0.0.1:{free_port()}"
    code, output = farm(*argv, "--executor", "ray", "--address", address)

    assert code == 2 and f"cannot reach the Ray cluster at {address}" in output
    assert not run_dir.exists()


def test_lab_join_refuses_a_device_another_host_advertises(lab: RayLab) -> None:
    address = lab.cluster.address
    refused_code, refused = farm(
        "lab", "join", "--address", address, "-d", phones_lab(lab, "taken")
    )
    newbie = lab.devices("newbie", lab.phone("newbie", lab.phones[0], LOG))
    code, printed = farm("lab", "join", "--address", address, "-d", newbie, "--dry-run")

    assert refused_code == 2 and "phone0, phone1" in refused
    assert "already advertised" in refused
    assert code == 0, printed
    assert shlex.split(printed) == [
        "ray",
        "start",
        f"--address={address}",
        '--resources={"device:newbie": 1.0, "farm_host_cpu": 1.0}',
    ]


def test_a_quarantine_is_seen_by_the_next_driver_and_lifted_by_lab_status(lab: RayLab) -> None:
    binary = lab.stand_in("benchmark_model")
    dead = lab.phone("dead", lab.phones[0], binary)
    dead["dead"]["serial"] = "nosuch"
    devices = lab.devices("dead", dead)
    node = lab.add_node(devices)
    models = stub_models(lab, "m")
    first = run(devices, models, lab.root / "dead1", delegates=["cpu"])  # two cells
    second = run(devices, models, lab.root / "dead2", delegates=["cpu"], threads=[1])
    _, status = farm("lab", "status", "--release", "dead")
    _, after = farm("lab", "status")
    lab.cluster.remove_node(node)

    assert list(first.failure_kind) == ["infra"] * 2 and "nosuch" in first.reason.iloc[0]
    assert list(first.attempt) == [2, 2]  # each retried once by Ray, then given up
    assert second.reason.iloc[0].startswith("quarantined after")  # not tried again
    assert "quarantined" in status and "lifted the quarantine of dead" in status
    assert "quarantined" not in after


def _sorted(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    return frame.sort_values(key).reset_index(drop=True)


def test_a_local_run_never_imports_ray(tmp_path: Path) -> None:
    """In the env where Ray is installed: a real local run, and Ray is still not loaded."""
    host = {"transport": "local", "delegates": ["cpu"]}
    devices = write_devices(tmp_path / "devices.yaml", {"host": host})
    models = model_folder_with(tmp_path, "kws_dscnn_int8", name="m")
    script = (
        "import sys\n"
        "from farm.cli import app\n"
        "from typer.testing import CliRunner\n"
        f"args = ['run', '-d', {str(devices)!r}, '-m', {str(models)!r}, '--runs', '3',"
        f" '--threads', '1', '--run-dir', {str(tmp_path / 'run')!r}]\n"
        "result = CliRunner().invoke(app, args)\n"
        "assert result.exit_code == 0, result.output\n"
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))\n"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_a_devices_facts_are_learned_once_per_run_not_once_per_cell(lab: RayLab) -> None:
    """Its description (getprop) and pre-flight probe (df) are asked for once, by the worker
    process that ran its first cell, and kept for its other cells; so is what was staged on
    it (each file's sha256 there asked for once, though each cell is its own task)."""
    phone = lab.phones[0]
    devices = lab.devices("facts", lab.phone("phone0", phone, lab.stand_in("benchmark_model")))
    asked_before = len(phone.shell_log)
    frame = run(devices, stub_models(lab, "facts"), lab.root / "facts")
    asked = [record.command for record in phone.shell_log[asked_before:]]

    assert len(frame) == 4 and set(frame.status) == {"ok"}, frame.reason.tolist()
    assert sum("getprop ro.product.model" in command for command in asked) == 1
    assert sum("df -Pk" in command for command in asked) == 1
    hashed = [command for command in asked if "sha256sum" in command]
    assert hashed and len(hashed) == len(set(hashed)), hashed
    assert frame.device_fingerprint.nunique() == 1 and frame.device_fingerprint.notna().all()
