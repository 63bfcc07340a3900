"""The virtual lab: N devices behind a private adb server, in-process and detached
(`farm sim up` / `farm sim down`), with nothing left running afterwards."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from farm.config import load_devices
from farm.sim import AdbServer, start_virtual_lab
from farm.sim.transfers import read_transfer_log
from farm.sim.virtual_lab import SWIFTSHADER_ICD, down, host_entry, up

from ..lab import lab_missing
from .conftest import require_lab_tool
from .processes import is_alive

pytestmark = pytest.mark.lab


def refuses_connections(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_a_lab_of_two_devices_and_its_devices_yaml(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    require_lab_tool("adb")
    require_lab_tool("bwrap")
    with start_virtual_lab(2, "generic_arm64", root=tmp_path_factory.mktemp("lab")) as lab:
        assert lab.server.devices() == {serial: "device" for serial in lab.serials}
        config = yaml.safe_load(lab.devices_yaml_snippet(with_host=True))["devices"]
        server_pid, ports = lab.server.pid, [device.port for device in lab.devices]
    assert set(config) == {"host", "sim0", "sim1"}
    assert config["sim1"] == {
        "transport": "adb",
        "serial": lab.serials[1],
        "adb_host": "127.0.0.1",
        "adb_port": lab.adb_port,
        "workdir": "/data/local/tmp/farm",
        "delegates": ["cpu", "xnnpack"],  # no runner: adb's default, benchmark_model
    }
    written = tmp_path_factory.mktemp("yaml") / "devices.yaml"
    written.write_text(yaml.safe_dump({"devices": config}))
    devices = load_devices(written)
    assert {d.name: d.runner for d in devices} == {
        "host": "python",
        "sim0": "benchmark_model",
        "sim1": "benchmark_model",
    }
    assert server_pid is not None and not is_alive(server_pid)
    assert all(refuses_connections(port) for port in ports)


def test_a_linux_python_lab_says_runner_python(tmp_path_factory: pytest.TempPathFactory) -> None:
    require_lab_tool("adb")
    require_lab_tool("bwrap")
    with start_virtual_lab(1, "linux-python", root=tmp_path_factory.mktemp("lab")) as lab:
        config = yaml.safe_load(lab.devices_yaml_snippet())["devices"]
    assert config["sim0"]["runner"] == "python"


def test_farm_sim_up_and_down_leave_nothing_running(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    require_lab_tool("adb")
    require_lab_tool("bwrap")
    root, state_path = tmp_path_factory.mktemp("detached"), tmp_path / "state.json"
    state = up(1, "pixel8", root, state_path, start_server=True)
    try:
        assert is_alive(state.pid) and state.adb_pid and is_alive(state.adb_pid)
        client = AdbServer(state.adb_port)  # a client of the lab's server, not a new one
        assert client.devices() == {state.serials[0]: "device"}
        (tmp_path / "f.txt").write_text("pushed\n")
        adb = ["-s", state.serials[0]]
        assert client.adb_command(*adb, "push", str(tmp_path / "f.txt"), "/sdcard/").returncode == 0
        shown = client.adb_command(*adb, "shell", "cat /sdcard/f.txt; getprop ro.product.model")
        assert shown.stdout == "pushed\nPixel 8\n"
        log = read_transfer_log(Path(state.transfer_logs[0]))
        assert log == [("SEND", "/sdcard/f.txt", 7)]
    finally:
        stopped = down(state_path)
    assert stopped is not None and not state_path.exists()
    assert not is_alive(state.pid) and not is_alive(state.adb_pid)
    assert down(state_path) is None


def test_the_module_entry_point_shows_its_commands() -> None:
    usage = subprocess.run(
        [sys.executable, "-m", "farm.sim", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "{serve,up,down}" in usage


def test_a_lab_without_a_root_cleans_up_after_itself() -> None:
    require_lab_tool("adb")
    require_lab_tool("bwrap")
    with start_virtual_lab(1) as lab:
        assert (lab.root / "device0/data/local/tmp").is_dir()
    assert not lab.root.exists()


def test_the_demo_host_gets_a_gpu_column_where_swiftshader_is(tmp_path: Path) -> None:
    if not SWIFTSHADER_ICD.exists():
        lab_missing(f"no SwiftShader at {SWIFTSHADER_ICD} (apt-get install chromium)")
    with_gpu = yaml.safe_load("\n".join(["devices:", *host_entry(SWIFTSHADER_ICD)]))
    assert with_gpu["devices"]["host"]["delegates"] == ["cpu", "xnnpack", "gpu"]
    assert with_gpu["devices"]["host"]["env"]["VK_ICD_FILENAMES"] == str(SWIFTSHADER_ICD)
    without = yaml.safe_load("\n".join(["devices:", *host_entry(tmp_path / "none.json")]))
    assert without["devices"]["host"] == {"transport": "local", "delegates": ["cpu", "xnnpack"]}
