"""The parts of the Ray scale-out that need no Ray: the resources a cell asks for and a lab host
advertises, the lab-wide health ledger, and that the farm never imports Ray unless asked.
(The executor itself runs on a real Ray cluster in tests/test_ray.py, `tox -e ray`.)"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

from farm.cluster.address import check_reachable
from farm.cluster.health import LabHealth
from farm.cluster.resources import (
    HOST_CPU,
    advertised_devices,
    cell_resources,
    host_resources,
    ray_start_argv,
    unmet,
    unplaceable,
)
from farm.spec import AdbOptions, Device

from .lab import farm, free_port

PHONE = Device("pixel", "adb", ("cpu",), options=AdbOptions(serial="R5CT1234"))
HOST = Device("host", "local", ("cpu",))


def test_a_cell_holds_its_device_and_only_a_host_cpu_cell_the_host() -> None:
    assert cell_resources(PHONE) == {"device:pixel": 1.0}
    assert cell_resources(HOST) == {"device:host": 1.0, HOST_CPU: 1.0}


def test_a_lab_host_advertises_each_device_once_and_one_host_cpu() -> None:
    argv = ray_start_argv("head:6379", [PHONE, HOST])

    assert argv[:3] == ["ray", "start", "--address=head:6379"]
    resources = json.loads(argv[3].removeprefix("--resources="))
    assert resources == {"device:pixel": 1.0, "device:host": 1.0, HOST_CPU: 1.0}
    assert host_resources([]) == {HOST_CPU: 1.0}


def test_advertised_devices_are_read_from_cluster_resources() -> None:
    resources = {"CPU": 8.0, "device:a": 1.0, "device:b": 0.0, HOST_CPU: 2.0, "node:1.2": 1.0}
    assert advertised_devices(resources) == {"a"}


def test_a_cell_needs_one_node_with_all_its_resources() -> None:
    needs = cell_resources(HOST)
    hand_started = {"CPU": 2.0, "device:host": 1.0}  # ray start --resources '{"device:host": 1}'
    phone_host = {"CPU": 2.0, "device:pixel": 1.0, HOST_CPU: 1.0}
    assert unmet(needs, [phone_host, hand_started]) == [HOST_CPU]  # the node with the device
    assert unmet(needs, [phone_host]) == ["device:host"]
    assert unmet(needs, []) == ["device:host", HOST_CPU]
    assert unmet(needs, [phone_host, {**hand_started, HOST_CPU: 1.0}]) == []
    assert unmet(cell_resources(PHONE), [phone_host]) == []


def test_an_unplaceable_cell_says_what_is_missing_and_the_join_that_provides_it() -> None:
    join = "`farm lab join --address head:6379 --only host`"
    assert unplaceable("host", [HOST_CPU], "head:6379") == (
        f"the host advertising device host lacks {HOST_CPU}, which its cells need too (a "
        f"hand-written `ray start --resources`?): restart it with {join}, or a head with "
        f"""`ray start --head --resources='{{"device:host": 1.0, "{HOST_CPU}": 1.0}}'`"""
    )
    assert unplaceable("host", ["device:host", HOST_CPU], "head:6379") == (
        f"no host advertises device host (run {join} on its host)"
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_infra_failures_in_a_row_quarantine_a_device_for_every_run_until_it_expires() -> None:
    clock = Clock()
    health = LabHealth(quarantine_s=60, clock=clock)
    health.observe("pixel", "infra", "adb: device offline", limit=2)
    assert health.begin("run-1", "c1", "pixel") == (1, None)
    health.observe("pixel", "timeout", "timed out after 300 s", limit=2)

    attempt, reason = health.begin("run-2", "c1", "pixel")  # another driver's run
    assert attempt == 1
    assert reason == "quarantined after 2 infra failures: timed out after 300 s"
    assert health.status() == {"pixel": reason}
    clock.now += 61
    assert health.begin("run-2", "c1", "pixel") == (2, None)  # expired; attempts count on
    assert health.status() == {}


def test_a_success_or_a_model_failure_breaks_the_streak() -> None:
    health = LabHealth()
    for kind in ("infra", None, "infra", "model", "infra"):
        health.observe("pixel", kind, "why", limit=2)
    assert health.quarantined("pixel") is None


def test_release_lifts_a_quarantine_and_forget_drops_a_runs_attempts() -> None:
    health = LabHealth()
    health.observe("pixel", "infra", "gone", limit=1)
    health.begin("run-1", "c1", "pixel")

    assert health.release("pixel") and not health.release("pixel")
    health.forget("run-1")
    assert health.begin("run-1", "c1", "pixel") == (1, None)


def test_the_ray_executor_without_ray_is_an_input_error(
    monkeypatch: pytest.MonkeyPatch, host_lab: Path
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    code, output = farm("run", "-d", host_lab, "--executor", "ray")

    assert code == 2
    assert "Ray is not installed" in output and "tflite-farm[ray]" in output
    lab_code, lab = farm("lab", "status")
    assert lab_code == 2 and "Ray is not installed" in lab


def test_the_heads_address_is_checked_before_anything_waits_on_it() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        check_reachable(f"127.0.0.1:{listening.getsockname()[1]}")  # answers: no error
        closed = free_port()
        with pytest.raises(ConnectionRefusedError):
            check_reachable(f"127.0.0.1:{closed}")
    with pytest.raises(ValueError, match="not HOST:PORT"):
        check_reachable("head-without-port")
    check_reachable(None)  # left to Ray: RAY_ADDRESS, or a cluster on this host


def test_retried_rows_are_kept_for_the_driver_once_and_dropped_with_the_run() -> None:
    health = LabHealth()
    health.retried("run-1", "c1", "attempt 1")
    health.retried("run-1", "c1", "attempt 2")

    assert health.take_retried("run-1", "c1") == ["attempt 1", "attempt 2"]
    assert health.take_retried("run-1", "c1") == []
    health.retried("run-1", "c2", "attempt 1")
    health.forget("run-1")
    assert health.take_retried("run-1", "c2") == []
